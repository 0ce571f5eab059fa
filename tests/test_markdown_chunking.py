"""MDX cleanup, heading paths, and chunks bounded by the embedding model's tokenizer."""

import pytest

from knowledge.chunking import Chunker, embedding_heading
from knowledge.documents import Section
from knowledge.markdown import split_sections, strip_mdx

MDX = '''import Tip from "./tip"

# Tokenizers[[tokenizers]]

<CourseFloatingBanner chapter={2}
  classNames="absolute z-10 right-0 top-0"
  notebooks={[{label: "Colab", value: "https://example.invalid/a>b"}]} />

Tokenizers turn text into numbers.

<Tip>
Remember that a tokenizer is paired with its model.
</Tip>

## Encoding[[encoding]]

```python
# this is a comment, not a heading
tokens = tokenizer("Hello <World>")
```

<Question choices={[{text: "A > B", explain: "no"}]} />

Encoding has two steps.
'''


def test_mdx_components_dropped_text_kept():
    text = strip_mdx(MDX)
    assert "CourseFloatingBanner" not in text
    assert "Question" not in text
    assert "import Tip" not in text
    assert "Remember that a tokenizer is paired with its model." in text
    assert "<Tip>" not in text
    assert "</Tip>" not in text


def test_code_fence_survives_cleanup():
    text = strip_mdx(MDX)
    assert 'tokens = tokenizer("Hello <World>")' in text


def test_heading_paths_and_anchors():
    sections = split_sections(MDX, mdx=True)
    paths = [section.heading_path for section in sections]
    assert ("Tokenizers",) in paths
    assert ("Tokenizers", "Encoding") in paths
    encoding = next(s for s in sections if s.heading_path == ("Tokenizers", "Encoding"))
    assert "# this is a comment, not a heading" in encoding.text
    assert "Encoding has two steps." in encoding.text


def test_sibling_headings_replace_each_other():
    sections = split_sections("# A\n\n## B\n\nb text\n\n## C\n\nc text\n\n# D\n\nd text\n")
    assert [s.heading_path for s in sections] == [("A", "B"), ("A", "C"), ("D",)]


@pytest.fixture(scope="module")
def chunker(embedder):
    return Chunker(embedder.tokenizer, max_tokens=embedder.max_tokens, target_tokens=200)


def assert_within_limit(chunker, chunks):
    for chunk in chunks:
        heading = embedding_heading(chunk.heading_path)
        embedded = f"{heading}\n{chunk.text}" if heading else chunk.text
        tokens = chunker.count(embedded)
        assert tokens <= chunker.max_tokens, f"chunk {chunk.index} has {tokens} tokens"


def test_max_tokens_matches_model(embedder):
    assert embedder.max_tokens == embedder.model.max_seq_length - 2 == 254


def test_long_paragraph_split_within_limit(chunker):
    paragraph = " ".join(f"Sentence number {i} talks about gradient descent and loss." for i in range(300))
    chunks = chunker.chunk([Section(paragraph, ("Long",))])
    assert len(chunks) > 5
    assert_within_limit(chunker, chunks)
    assert "Sentence number 0 " in chunks[0].text
    assert "Sentence number 299" in chunks[-1].text


def test_text_without_spaces_still_bounded(chunker):
    # Punctuation splits word pieces, so this is 1,999 tokens with no space to cut at.
    word = "-".join(["token"] * 1000)
    chunks = chunker.chunk([Section(word)])
    assert len(chunks) > 1
    assert_within_limit(chunker, chunks)
    assert "".join(chunk.text for chunk in chunks) == word


def test_chinese_without_spaces_split_at_sentences(chunker):
    sentence = "机器学习模型通过最小化损失函数来学习数据中的模式。"
    text = sentence * 120
    chunks = chunker.chunk([Section(text)])
    assert len(chunks) > 1
    assert_within_limit(chunker, chunks)
    for chunk in chunks[:-1]:
        assert chunk.text.endswith("。"), chunk.text[-10:]


def test_arabic_text_bounded(chunker):
    sentence = "تتعلم النماذج الأنماط من البيانات عن طريق تقليل الخسارة. "
    chunks = chunker.chunk([Section(sentence * 150)])
    assert len(chunks) > 1
    assert_within_limit(chunker, chunks)


def test_spans_point_into_source(chunker):
    body = "First paragraph about neurons.\n\nSecond paragraph about activations."
    section = Section(body, ("Intro",), start=100)
    chunks = chunker.chunk([section])
    for chunk in chunks:
        assert body[chunk.start - 100 : chunk.end - 100].strip() == chunk.text


def test_code_block_kept_whole_when_it_fits(chunker):
    code = "```python\nimport torch\n\nx = torch.ones(2)\n\nprint(x)\n```"
    text = "Intro line.\n\n" + code + "\n\nOutro line."
    chunks = chunker.chunk([Section(text)])
    assert any(code in chunk.text for chunk in chunks)


def assert_nothing_lost(chunks, text):
    joined = "".join("".join(chunk.text.split()) for chunk in chunks)
    assert joined == "".join(text.split())


def test_japanese_split_after_full_width_stops(chunker):
    sentences = ["「注意機構は何をするのか？」と彼は尋ねた。", "トークン同士の関係を重み付けする！", "埋め込みは意味を表すベクトルです．"]
    text = "".join(sentences) * 60
    chunks = chunker.chunk([Section(text, ("注意",))])
    assert len(chunks) > 1
    assert_within_limit(chunker, chunks)
    assert_nothing_lost(chunks, text)
    for chunk in chunks[:-1]:
        assert chunk.text[-1] in "。！．", chunk.text[-10:]


def test_arabic_question_marks_end_sentences(chunker):
    text = "ما هو التضمين؟ التضمين متجه يمثل معنى النص. " * 120
    chunks = chunker.chunk([Section(text)])
    assert len(chunks) > 1
    assert_within_limit(chunker, chunks)
    assert_nothing_lost(chunks, text)
    for chunk in chunks[:-1]:
        assert chunk.text[-1] in "؟.", chunk.text[-10:]


def test_hebrew_and_devanagari_bounded(chunker):
    hebrew = "מודל שפה חוזה את המילה הבאה. האם זה תמיד נכון? לא תמיד! " * 80
    hindi = "भाषा मॉडल अगला शब्द बताता है। यह संभावना पर आधारित है॥ " * 80
    for text in (hebrew, hindi):
        chunks = chunker.chunk([Section(text)])
        assert len(chunks) > 1
        assert_within_limit(chunker, chunks)
        assert_nothing_lost(chunks, text)
        assert chunks[0].text[-1] in ".?!।॥"


def test_emoji_and_joiners_kept_within_limit(chunker):
    # 👩‍💻 is two emoji joined by U+200D, which the tokenizer drops; a cut there must not lose it.
    text = "Embeddings 🤖 map👩‍💻text🚀into vectors✨" * 150
    chunks = chunker.chunk([Section(text)])
    assert len(chunks) > 1
    assert_within_limit(chunker, chunks)
    assert_nothing_lost(chunks, text)


def test_enormous_word_capped_in_characters(chunker):
    # Over 100 characters without a break is one unknown token, so only the character cap splits it.
    word = "a1b2c3d4" * 5000
    chunks = chunker.chunk([Section(word, ("Blob",))])
    assert chunker.count(word) < 5
    assert len(chunks) >= len(word) // chunker.max_chars
    assert all(len(chunk.text) <= chunker.max_chars for chunk in chunks)
    assert_within_limit(chunker, chunks)
    assert "".join(chunk.text for chunk in chunks) == word


def test_cjk_without_stops_cut_at_commas(chunker):
    clause = "模型把文本切成词元，"
    text = clause * 400
    chunks = chunker.chunk([Section(text)])
    assert len(chunks) > 1
    assert_within_limit(chunker, chunks)
    assert_nothing_lost(chunks, text)
    for chunk in chunks[:-1]:
        assert chunk.text.endswith("，"), chunk.text[-6:]


def test_decimal_points_do_not_end_sentences():
    from knowledge.chunking import _sentences

    text = "Set the rate to 3.14 in v1.2 first. Then train."
    spans = _sentences(text, 0, len(text))
    assert [text[a:b].strip() for a, b in spans] == ["Set the rate to 3.14 in v1.2 first.", "Then train."]


def test_setext_headings_and_front_matter():
    text = (
        "---\ntitle: Losses\ntags: [ml]\n---\n"
        "Losses\n======\n\nA loss measures error.\n\n"
        "Cross-entropy\n-------------\n\nIt compares distributions.\n\n"
        "- a list item\n---\n\nAfter a rule.\n"
    )
    sections = split_sections(text)
    assert [s.heading_path for s in sections] == [("Losses",), ("Losses", "Cross-entropy")]
    assert sections[0].text == "A loss measures error."
    assert "title:" not in "\n".join(s.text for s in sections)
    assert sections[1].text.startswith("It compares distributions.")
    assert "- a list item\n---" in sections[1].text
    for section in sections:
        assert text[section.start :].lstrip().startswith(section.text[:20])


def test_code_fence_dashes_not_a_heading():
    sections = split_sections("# Code\n\n```\nvalue\n---\n```\n")
    assert [s.heading_path for s in sections] == [("Code",)]
    assert "value\n---" in sections[0].text
