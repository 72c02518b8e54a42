"""The Riket file NNS sends back to every förbund, and its signature.

The existing national-figures format (``year,questionnaire,question,subgroup,
positive``) extended with ``n``, ``comparison_group`` (empty for Riket, else
the group's name) and ``riket_version`` (the version of NNS's publication of the
year, the same on every row): one row per published, unsuppressed question row of
Riket and of each comparison group. The version is signed with the rest, so a
förbund can refuse an older file in place of a newer one. NNS signs the file's
exact bytes with its own Ed25519 key; the signature travels beside it as
``<file>.sig``. A förbund that has NNS's public key configured (setting or
``NNS_PUBLIC_KEY``) accepts only a file whose signature verifies.

``export_riket`` is the action behind both the page's download and ``surveys national
export``: the administrator's check and one audit entry (``riket.exportera``) alike.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlmodel import Session, col

from indicators.report import NATIONAL_COLUMNS
from surveys.db import configured
from surveys.files.history import comparison_groups
from surveys.files.reading import FileError
from surveys.models import PublicationRow
from surveys.national.publish import GROUP_PREFIX
from surveys.services import publications, settings
from surveys.services.actor import Actor, audit, require_admin
from surveys.services.signing import verify

RIKET_COLUMNS = [*NATIONAL_COLUMNS, "n", "comparison_group", "riket_version"]
NNS_PUBLIC_KEY = "nns_public_key"  # setting (or the environment's NNS_PUBLIC_KEY)


class RiketFileError(Exception):
    """The Riket file cannot be written (Swedish message)."""


def riket_csv(db: Session, year: int) -> bytes:
    """The Riket file of a published national year."""
    publication = publications.latest(db, year)
    if publication is None:
        years = ", ".join(map(str, publications.published_years(db))) or "inga"
        raise RiketFileError(
            f"År {year} är inte publicerat nationellt (publicerade år: {years}). "
            f"Publicera med: surveys national publish --year {year}"
        )
    rows = db.execute(
        select(PublicationRow)
        .where(
            col(PublicationRow.publication_id) == publication.id,
            col(PublicationRow.question) != publications.POOLED,
            col(PublicationRow.suppressed) == "",
            col(PublicationRow.positive).is_not(None),
        )
        .order_by(
            col(PublicationRow.scope),
            col(PublicationRow.questionnaire),
            col(PublicationRow.question),
            col(PublicationRow.subgroup),
        )
    ).scalars()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RIKET_COLUMNS)
    for row in rows:
        if row.scope != publications.FORBUND and not row.scope.startswith(GROUP_PREFIX):
            continue  # a förbund's own figures stay with NNS
        group = row.scope[len(GROUP_PREFIX) :] if row.scope else ""
        writer.writerow(
            [
                year,
                row.questionnaire,
                row.question,
                row.subgroup,
                row.positive,
                row.n,
                group,
                publication.version,
            ]
        )
    return out.getvalue().encode("utf-8")


def default_filename(year: int) -> str:
    return f"riket-{year}.csv"


def export_riket(db: Session, actor: Actor, year: int) -> bytes:
    """The administrator takes out the Riket file of a year (``riket.exportera``,
    "<year>: riket-<year>.csv", the file's own name, the same detail from the page and
    the CLI whatever file the command writes); RiketFileError or Refused, nothing
    written, when it cannot."""
    require_admin(actor)
    data = riket_csv(db, year)
    audit(db, actor, "riket.exportera", f"{year}: {default_filename(year)}")
    return data


def configured_key(db: Session) -> str:
    """NNS's public key as the förbund has configured it ("" = none)."""
    return (settings.get(db, NNS_PUBLIC_KEY) or configured("NNS_PUBLIC_KEY", "")).strip()


# Said after a Riket file is imported where no key is set (the page and the command line;
# a flash message holds 200 characters).
UNVERIFIED_NOTICE = (
    "Obs: NNS publika nyckel är inte inställd, så filens ursprung kunde inte kontrolleras. "
    "Ställ in nns_public_key: då tas rikets fil bara emot med giltig signatur."
)


def notices_after_import(db: Session) -> list[str]:
    """What the administrator should know after a Riket file was taken: that nothing
    could be checked (no NNS key), and that the förbund's comparison group is no longer
    among the figures (NNS's newer file replaced the year whole without it)."""
    notices = [] if configured_key(db) else [UNVERIFIED_NOTICE]
    group = settings.comparison_group(db)
    groups = comparison_groups(db)
    if group and group not in groups:
        known = ", ".join(groups) or "inga"
        notices.append(
            f"Obs: jämförelsegruppen {group[:40]!r} finns inte längre i rikets filer, så "
            f"rapporten visar ingen grupp. Välj en av: {known[:60]}."
        )
    return notices


def check_signature(db: Session, data: bytes, signature: bytes | None, filename: str) -> bool:
    """Refuse (FileError) a Riket file whose signature does not verify, when a key is set;
    True when it was verified, False when no key is set (nothing could be checked)."""
    key = configured_key(db)
    if not key:
        return False
    if not signature:
        raise FileError(
            [
                f"{filename}: signaturen saknas. NNS publika nyckel är inställd, så rikets fil "
                f"tas bara emot med sin signaturfil ({filename}.sig)."
            ]
        )
    if not verify(key, data, signature):
        raise FileError(
            [
                f"{filename}: signaturen stämmer inte med NNS publika nyckel: filen är ändrad "
                "eller kommer inte från NNS."
            ]
        )
    return True
