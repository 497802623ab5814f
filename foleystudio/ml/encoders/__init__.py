"""ml/encoders"""
