"""pytorch-intro"""

__version__ = "0.1"
