"""dojangkok AI service stand-in."""
