"""Plain Python + NumPy: media I/O, the project document, edits. No torch, no Qt."""
