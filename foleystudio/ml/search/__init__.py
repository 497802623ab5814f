"""ml/search"""
