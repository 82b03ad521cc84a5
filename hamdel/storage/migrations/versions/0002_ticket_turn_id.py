"""tickets.turn_id: one ticket per front-end turn of a customer

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:20:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('turn_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_tickets_customer_turn', ['customer_id', 'turn_id'])


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint('uq_tickets_customer_turn', type_='unique')
        batch_op.drop_column('turn_id')
