"""The ``assistant-bridge`` command line and the demo it runs. Top layer: may import anything."""
