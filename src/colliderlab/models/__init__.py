"""colliderlab.models"""
