"""colliderlab.features"""
