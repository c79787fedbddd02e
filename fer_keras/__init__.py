"""fer-keras: reproductions of published FER-2013 papers in Keras 3."""

__version__ = "0.1.0"
