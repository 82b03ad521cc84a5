"""Follow-ups and satisfaction measurement (issue 4).

Follow-ups are rows in the database (`hamdel.storage.followups`), written when a ticket is created
or changes status, and sent by `followups.scheduler.FollowUpScheduler` inside the bot process.
`followups.integration.attach` wires buttons, `/stop` and the scheduler into the Telegram bot;
`python -m followups.report` computes the measures seed 004 names.
"""
