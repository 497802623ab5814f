"""data/foleyworld"""
