"""`rows_affected` reads the count of a conditional UPDATE, the basis of every at-most-once claim."""

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from hamdel.storage.db import make_engine, rows_affected


def test_rows_affected_counts_what_a_conditional_update_changed():
    with Session(make_engine("sqlite:///:memory:")) as session:
        session.execute(text("CREATE TABLE claim (id INTEGER PRIMARY KEY, owner TEXT)"))
        session.execute(text("INSERT INTO claim (id, owner) VALUES (1, NULL), (2, NULL), (3, 'other')"))
        take = text("UPDATE claim SET owner = 'me' WHERE owner IS NULL")
        assert rows_affected(session.execute(take)) == 2
        assert rows_affected(session.execute(take)) == 0



def test_rows_affected_refuses_a_result_without_a_row_count():
    with Session(make_engine("sqlite:///:memory:")) as session:
        buffered = session.execute(text("SELECT 1")).freeze()()  # an IteratorResult, no cursor behind it
        with pytest.raises(TypeError, match="no row count"):
            rows_affected(buffered)
