"""One serial number, one device: a device without an IMEI is known by it alone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "uq_inventory_items_serial"
SHARED_SERIALS = sa.text(
    """
SELECT serial, string_agg(id::text, ', ' ORDER BY id)
FROM inventory_items
WHERE serial IS NOT NULL
GROUP BY serial
HAVING count(*) > 1
LIMIT 10
"""
)


def upgrade() -> None:
    shared = op.get_bind().execute(SHARED_SERIALS).all()
    if shared:
        listed = "; ".join(f"serial {serial}: items {ids}" for serial, ids in shared)
        raise RuntimeError(
            "several devices share a serial number, so a device known by its serial "
            f"cannot be told apart ({listed}); correct those serials, then upgrade"
        )
    op.create_unique_constraint(NAME, "inventory_items", ["serial"])


def downgrade() -> None:
    op.drop_constraint(NAME, "inventory_items", type_="unique")
