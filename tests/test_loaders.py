"""Loaders: every bad file gets a clear message naming it; good files keep their structure."""

import pytest

from knowledge.loaders import IngestError, load_bytes

from conftest import shared_path

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pages": 500}


def load(data, name, **limits):
    return load_bytes(data, name, **{**LIMITS, **limits})


@pytest.mark.parametrize(
    "data, name, reason",
    [
        (b"", "empty.md", "empty"),
        (b"   \n\t\n", "blank.txt", "empty"),
        (b"\x00\x01\x02binary\x00" * 50, "program.txt", "binary"),
        ("caf\xe9 cr\xe8me".encode("latin-1"), "menu.txt", "UTF-8"),
        (b"hello", "notes.docx", "not supported"),
        (b"hello", "README", "not supported"),
        (b"just text, not a pdf", "report.pdf", "not a PDF"),
    ],
)
def test_bad_files_rejected_with_reason(data, name, reason):
    with pytest.raises(IngestError) as error:
        load(data, name)
    assert error.value.name == name
    assert reason in error.value.reason
    assert name in str(error.value)


def test_size_limit_checked_first():
    with pytest.raises(IngestError) as error:
        load(b"a" * 2048, "big.txt", max_bytes=1024)
    assert "limit" in error.value.reason
    assert "MAX_FILE_BYTES" in error.value.reason


def test_markdown_keeps_headings():
    document = load(b"# Guide\n\n## Setup\n\nInstall it.\n\n## Use\n\nRun it.\n", "guide.md")
    assert document.doc_type == "md"
    assert [s.heading_path for s in document.sections] == [("Guide", "Setup"), ("Guide", "Use")]
    assert len(document.content_hash) == 64


def test_utf8_bom_and_cjk_text():
    document = load("\ufeff机器学习。学习模式。".encode("utf-8"), "zh.txt")
    assert document.sections[0].text.startswith("机器")


def test_type_from_content_not_name():
    pdf = shared_path("corpus", "pdf", "minimal-document.pdf").read_bytes()
    document = load(pdf, "renamed.md")
    assert document.doc_type == "pdf"


def test_pdf_pages_numbered():
    pdf = shared_path("corpus", "pdf", "pdflatex-4-pages.pdf").read_bytes()
    document = load(pdf, "four.pdf")
    assert [s.page for s in document.sections] == [1, 2, 3, 4]


def test_pdf_page_limit():
    pdf = shared_path("corpus", "pdf", "pdflatex-4-pages.pdf").read_bytes()
    with pytest.raises(IngestError) as error:
        load(pdf, "four.pdf", max_pages=3)
    assert "4 pages" in error.value.reason


def test_password_protected_pdf():
    pdf = shared_path("corpus", "pdf", "libreoffice-writer-password.pdf").read_bytes()
    with pytest.raises(IngestError) as error:
        load(pdf, "locked.pdf")
    assert "password-protected" in error.value.reason


def test_scanned_pdf_says_no_text():
    pdf = shared_path("cases", "files", "scanned-two-pages.pdf").read_bytes()
    with pytest.raises(IngestError) as error:
        load(pdf, "scan.pdf")
    assert "no text could be extracted" in error.value.reason
    assert "OCR" in error.value.reason


def test_every_corpus_pdf_loads_or_explains():
    folder = shared_path("corpus", "pdf")
    outcomes = {}
    for path in sorted(folder.glob("*.pdf")):
        try:
            document = load(path.read_bytes(), path.name)
            outcomes[path.name] = f"{len(document.sections)} pages with text"
            assert all(section.text.strip() for section in document.sections)
        except IngestError as error:
            outcomes[path.name] = error.reason
            assert len(error.reason) > 20
    print("\n".join(f"{name}: {outcome}" for name, outcome in outcomes.items()))
    assert "password-protected" in outcomes["libreoffice-writer-password.pdf"]
    assert outcomes["habibi.pdf"].endswith("pages with text")
