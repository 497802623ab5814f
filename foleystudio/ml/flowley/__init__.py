"""ml/flowley"""
