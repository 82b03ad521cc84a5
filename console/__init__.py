"""The admins' and supervisors' web console: an inbox of real customer messages to label, a
retrain → regression gate → promote/rollback loop for the NLU model, and the complaint dashboard.

Layout (one module per concern):
    app.py            create_app(): middleware, routers, startup (bootstrap admin)
    auth.py           accounts, argon2 hashes, sessions, roles, CSRF            → `require(Role.X)`
    audit.py          the audit log                                           → `record(...)`
    web.py            Jinja2 environment, `render()`, Jalali dates and Persian digits
    texts.py          Persian messages produced in Python (pages keep theirs in templates/)
    dashboard.py      supervisors' dashboard and ticket list (routes + queries)
    inbox.py          real messages from Rasa's tracker store: ranking, masking, de-duplication
    labelling.py      labels, review, golden set, writing nlu_data/ YAML
    inbox_routes.py   routes of the inbox and labelling pages
    training.py       one training job at a time, progress, cancel
    gate.py           regression gate: candidate vs production on golden + held-out files
    deploy.py         model registry, promote through PUT /model, rollback
    model_routes.py   routes of the training / gate / models pages
    tables.py         the console's database tables (migration 0003)
"""
