// Analysis module: see DESIGN.md.
