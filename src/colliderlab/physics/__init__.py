"""colliderlab.physics"""
