"""inbound_updates.turn_update_id, replies_sent: which Rasa turn a message went out in, and how
much of that turn's answer reached the customer

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 19:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_updates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('turn_update_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('replies_sent', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('inbound_updates', schema=None) as batch_op:
        batch_op.drop_column('replies_sent')
        batch_op.drop_column('turn_update_id')
