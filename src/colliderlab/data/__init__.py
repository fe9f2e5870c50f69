"""colliderlab.data"""
