"""pdesolve: high-dimensional PDEs with physics-informed networks trained without back-propagation."""

__version__ = "0.1.0"
