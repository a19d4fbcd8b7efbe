from pathlib import Path

from shopfloor.core.settings import settings_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_settings_doc_is_current() -> None:
    assert DOC.read_text() == settings_reference(), "run: shopfloor settings > docs/settings.md"
