"""ml/ssv2a"""
