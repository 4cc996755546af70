"""sachsong: make provincial registers đúng, đủ, sạch, sống after the 2025 merger."""

__version__ = "0.1.0"
