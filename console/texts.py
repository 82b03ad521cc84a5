"""Persian messages the console's Python code produces (errors, notices, flash messages).

Pages keep their own wording in `console/templates/`; this is the one catalogue for the rest.
Polite written-spoken register, as an admin reads it.
"""
from __future__ import annotations

# --- accounts, sessions, dashboard (app.py, auth.py, dashboard.py) ---

# --- inbox and labelling (inbox.py, labelling.py, inbox_routes.py) ---

# --- training, gate, deploy (training.py, gate.py, deploy.py, model_routes.py) ---
