// Emitters module: see DESIGN.md.
