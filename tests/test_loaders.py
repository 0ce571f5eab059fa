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
        (b"hello", "notes.docx", "not a Word document"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "photo.txt", "PNG image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old.doc", "old Office format"),
        ("utf-16 without a byte order mark".encode("utf-16-le"), "wide.txt", "binary"),
        (b"PK\x03\x04 not really a zip", "broken.docx", "damaged"),
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


def test_utf16_and_utf8_bom_text_decoded():
    for encoding in ("utf-16", "utf-8-sig", "utf-32"):
        document = load("Нейронные сети учатся на данных.".encode(encoding), "ru.txt")
        assert document.sections[0].text == "Нейронные сети учатся на данных."


def test_extracted_chars_limit_for_text_and_pdf():
    with pytest.raises(IngestError) as error:
        load(b"word " * 400, "long.txt", max_chars=1000)
    assert "MAX_EXTRACTED_CHARS" in error.value.reason
    pdf = shared_path("corpus", "pdf", "pdflatex-4-pages.pdf").read_bytes()
    with pytest.raises(IngestError) as error:
        load(pdf, "four.pdf", max_chars=500)
    assert "500 characters" in error.value.reason


def test_hf_course_mdx_loads_with_headings():
    folder = shared_path("corpus", "hf-course", "chapter2")
    files = sorted(folder.glob("*.mdx"))
    assert files
    for path in files:
        document = load(path.read_bytes(), f"chapter2/{path.name}")
        assert document.doc_type == "mdx"
        assert all(section.heading_path for section in document.sections[1:]), path.name
        text = "\n".join(section.text for section in document.sections)
        assert "<Tip" not in text
        assert "import " not in text.split("```")[0]


# --- DOCX -------------------------------------------------------------------

def docx_bytes(build) -> bytes:
    import io

    from docx import Document

    document = Document()
    build(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def guide(document):
    document.add_heading("Guide", 0)
    document.add_paragraph("An introduction before any section.")
    document.add_heading("Setup", 1)
    document.add_paragraph("Check the Python version first.")
    document.add_heading("Install", 2)
    document.add_paragraph("Run pip install genai-tutor in a virtual environment.")
    table = document.add_table(rows=2, cols=2)
    for (row, column), text in {(0, 0): "Setting", (0, 1): "Default", (1, 0): "MAX_FILE_BYTES", (1, 1): "10 MiB"}.items():
        table.cell(row, column).text = text
    document.add_heading("Use", 1)
    document.add_paragraph("Type /help in the chat.")


def test_docx_heading_paths_and_tables():
    document = load(docx_bytes(guide), "guide.docx")
    assert document.doc_type == "docx"
    paths = [section.heading_path for section in document.sections]
    assert paths == [("Guide",), ("Guide", "Setup"), ("Guide", "Setup", "Install"), ("Guide", "Use")]
    install = document.sections[2]
    assert "Run pip install genai-tutor" in install.text
    assert "Setting | Default\nMAX_FILE_BYTES | 10 MiB" in install.text


def test_docx_detected_by_content_under_any_name():
    document = load(docx_bytes(guide), "upload.txt")
    assert document.doc_type == "docx"
    assert document.sections[0].text == "An introduction before any section."


def test_docx_custom_heading_style_by_outline_level():
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml.ns import qn
    from docx.oxml import OxmlElement

    def build(document):
        style = document.styles.add_style("Kapitel", WD_STYLE_TYPE.PARAGRAPH)
        level = OxmlElement("w:outlineLvl")
        level.set(qn("w:val"), "0")
        style.element.get_or_add_pPr().append(level)
        document.add_paragraph("Einleitung", style="Kapitel")
        document.add_paragraph("Ein Satz über Modelle.")

    document = load(docx_bytes(build), "de.docx")
    assert document.sections[0].heading_path == ("Einleitung",)


def test_docx_without_text_is_reported():
    with pytest.raises(IngestError) as error:
        load(docx_bytes(lambda document: None), "blank.docx")
    assert "no text could be extracted" in error.value.reason


def zip_bytes(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_bomb_rejected_before_unpacking():
    import io
    import tracemalloc
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        with archive.open("word/document.xml", "w") as member:
            block = b"\x00" * (1024 * 1024)
            for _ in range(64):
                member.write(block)
    data = buffer.getvalue()
    assert len(data) < 200_000

    tracemalloc.start()
    try:
        with pytest.raises(IngestError) as error:
            load(data, "bomb.docx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "zip bomb" in error.value.reason
    assert "nothing was unpacked" in error.value.reason
    assert peak < 8 * 1024 * 1024


def test_docx_part_over_cap_from_extracted_chars():
    data = docx_bytes(lambda document: [document.add_paragraph(f"Paragraph {i} about tokenizers.") for i in range(300)])
    with pytest.raises(IngestError) as error:
        load(data, "long.docx", max_chars=100)
    assert "MAX_EXTRACTED_CHARS" in error.value.reason


def test_docx_member_lying_about_size():
    import io
    import zipfile

    data = bytearray(docx_bytes(guide))
    # Shrink the declared size of word/document.xml in the central directory: zipfile
    # then stops inflating early and the CRC check fails.
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        member = archive.getinfo("word/document.xml")
    directory = bytes(data).rfind(b"PK\x01\x02", 0, len(data))
    while directory != -1:
        name_length = int.from_bytes(data[directory + 28 : directory + 30], "little")
        if bytes(data[directory + 46 : directory + 46 + name_length]) == b"word/document.xml":
            data[directory + 24 : directory + 28] = (member.file_size // 2).to_bytes(4, "little")
            break
        directory = bytes(data).rfind(b"PK\x01\x02", 0, directory)
    with pytest.raises(IngestError) as error:
        load(bytes(data), "lying.docx")
    assert "damaged" in error.value.reason or "not valid XML" in error.value.reason


@pytest.mark.parametrize(
    "members, reason",
    [
        ({"xl/workbook.xml": b"<workbook/>"}, "Excel workbook"),
        ({"ppt/presentation.xml": b"<p/>"}, "PowerPoint"),
        ({"notes.txt": b"hello"}, "zip archive, not a document"),
        ({"word/styles.xml": b"<styles/>"}, "no Word document part"),
        ({"word/document.xml": b"<w:document>"}, "not valid XML"),
    ],
)
def test_other_zip_archives_explained(members, reason):
    with pytest.raises(IngestError) as error:
        load(zip_bytes(members), "upload.docx")
    assert reason in error.value.reason


def test_encrypted_zip_member_rejected():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", b"<x/>")
    # zipfile cannot write encrypted members, so set the "encrypted" bit in both headers.
    data = bytearray(buffer.getvalue())
    data[6] |= 0x1
    data[data.find(b"PK\x01\x02") + 8] |= 0x1
    with pytest.raises(IngestError) as error:
        load(bytes(data), "secret.docx")
    assert "encrypted" in error.value.reason


def test_password_protected_office_file():
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512 + "EncryptedPackage".encode("utf-16-le")
    with pytest.raises(IngestError) as error:
        load(data, "locked.docx")
    assert "password-protected" in error.value.reason


# --- HTML -------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><title>Course</title><style>body { color: red }</style><script>var tracking = 1;</script></head>
<body>
<nav><a href="/">Home</a> <a href="/docs">Docs</a></nav>
<noscript>Please enable JavaScript</noscript>
<template><p>Template row</p></template>
<h1>Tokenizers<a class="headerlink" href="#t">¶</a></h1>
<p>A tokenizer turns <b>text</b> into
   token ids.</p>
<div hidden>Hidden promo</div>
<h2>Encoding</h2>
<ul><li>Split into words</li><li>Map words to ids</li></ul>
<pre>ids = tokenizer("Hello")
print(ids)</pre>
<table><tr><th>Token</th><th>Id</th></tr><tr><td>hello</td><td>7592</td></tr></table>
<script>console.log("not prose")</script>
<h2>Decoding</h2>
<p>Decoding maps ids back to text.<br>It is the inverse.</p>
</body></html>
"""


def test_html_heading_paths_and_dropped_machinery():
    document = load(PAGE.encode(), "page.html")
    assert document.doc_type == "html"
    paths = [section.heading_path for section in document.sections]
    assert paths == [("Tokenizers",), ("Tokenizers", "Encoding"), ("Tokenizers", "Decoding")]
    text = "\n".join(section.text for section in document.sections)
    for dropped in ("tracking", "color: red", "Home", "enable JavaScript", "Template row", "Hidden promo", "not prose", "Course"):
        assert dropped not in text, dropped
    assert document.sections[0].text == "A tokenizer turns text into token ids."
    encoding = document.sections[1].text
    assert "- Split into words\n\n- Map words to ids" in encoding
    assert '```\nids = tokenizer("Hello")\nprint(ids)\n```' in encoding
    assert "Token | Id\nhello | 7592" in encoding
    assert document.sections[2].text == "Decoding maps ids back to text.\nIt is the inverse."


def test_html_detected_without_html_name():
    document = load(PAGE.encode(), "saved-page")
    assert document.doc_type == "html"
    renamed = load(PAGE.encode(), "notes.md")
    assert renamed.doc_type == "html"


def test_html_fragment_by_name_and_declared_charset():
    fragment = load(b"<h3>Loss</h3><p>Cross-entropy.</p>", "snippet.htm")
    assert fragment.sections[0].heading_path == ("Loss",)
    latin = '<html><head><meta charset="windows-1252"></head><body><h1>Café</h1><p>Crème brûlée – fine.</p></body></html>'
    document = load(latin.encode("cp1252"), "menu.html")
    assert document.sections[0].heading_path == ("Café",)
    assert document.sections[0].text == "Crème brûlée – fine."


def test_html_not_utf8_without_charset_explained():
    with pytest.raises(IngestError) as error:
        load("<html><body><p>Café</p></body></html>".encode("cp1252"), "old.html")
    assert "not valid UTF-8" in error.value.reason


def test_html_with_only_scripts_has_no_text():
    with pytest.raises(IngestError) as error:
        load(b"<html><head><script>app()</script></head><body><noscript>JS</noscript></body></html>", "app.html")
    assert "no text could be extracted" in error.value.reason


def test_html_extracted_chars_limit():
    page = "<html><body>" + "<p>Attention weighs tokens.</p>" * 200 + "</body></html>"
    with pytest.raises(IngestError) as error:
        load(page.encode(), "big.html", max_chars=len(page) - 1)
    assert "MAX_EXTRACTED_CHARS" in error.value.reason
    with pytest.raises(IngestError) as error:
        load(page.encode(), "big.html", max_chars=1000)
    assert "MAX_EXTRACTED_CHARS" in error.value.reason


def test_text_mentioning_pdf_header_stays_text():
    document = load(b"# PDF notes\n\nEvery PDF file starts with %PDF-1.7 on its first line.\n", "pdf-notes.md")
    assert document.doc_type == "md"


def test_strict_open_xml_docx_explained():
    strict = b'<w:document xmlns:w="http://purl.oclc.org/ooxml/wordprocessingml/main"><w:body/></w:document>'
    with pytest.raises(IngestError) as error:
        load(zip_bytes({"word/document.xml": strict}), "strict.docx")
    assert "Strict Open XML" in error.value.reason


def test_docx_text_box_read_once():
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    mc = "http://schemas.openxmlformats.org/markup-compatibility/2006"
    box = "<w:txbxContent><w:p><w:r><w:t>Boxed note</w:t></w:r></w:p></w:txbxContent>"
    xml = (
        f'<w:document xmlns:w="{w}" xmlns:mc="{mc}"><w:body><w:p><w:r><w:t>Before. </w:t></w:r>'
        f"<w:r><mc:AlternateContent><mc:Choice>{box}</mc:Choice><mc:Fallback>{box}</mc:Fallback></mc:AlternateContent></w:r>"
        "</w:p></w:body></w:document>"
    )
    document = load(zip_bytes({"word/document.xml": xml.encode()}), "box.docx")
    assert document.sections[0].text == "Before. Boxed note"


def test_html_deep_nesting_loads():
    page = "<html><body>" + "<div>" * 5000 + "<h2>Deep</h2><p>Still read.</p>" + "</div>" * 5000 + "</body></html>"
    document = load(page.encode(), "deep.html")
    assert document.sections[0].heading_path == ("Deep",)
    assert document.sections[0].text == "Still read."
