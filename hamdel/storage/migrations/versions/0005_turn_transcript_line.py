"""inbound_updates.transcript_line_id: the customer's transcript line of a message's turn, written
once however often the turn is replayed

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 20:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_updates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transcript_line_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inbound_updates', schema=None) as batch_op:
        batch_op.drop_column('transcript_line_id')
