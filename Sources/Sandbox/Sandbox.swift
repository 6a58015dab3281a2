// Sandbox module: see DESIGN.md.
