"""/demo vectordb: recall@k against exact search, the engines' results checked against brute force."""

import numpy as np
import pytest

from lessons.demos.vectordb import (
    ENGINES, QUERIES, TOP_K, compare_engines, dataset, pad_with_unit_vectors, parse, recall_at_k, run,
)

from test_demos import png_size


def test_recall_of_exact_against_itself_is_one():
    exact = [[3, 1, 4, 0, 5], [9, 2, 6, 8, 7]]
    assert recall_at_k(exact, exact, 5) == 1.0


def test_recall_counts_overlap_per_query():
    exact = [[1, 2, 3, 4], [5, 6, 7, 8]]
    found = [[1, 2, 10, 11], [8, 7, 6, 5]]  # half of the first query's top 4, all of the second's in another order
    assert recall_at_k(found, exact, 4) == pytest.approx(0.75)


def test_recall_ignores_results_beyond_k():
    exact = [[1, 2, 3, 4]]
    found = [[1, 9, 9, 9, 2, 3, 4]]
    assert recall_at_k(found, exact, 4) == pytest.approx(0.25)
    assert recall_at_k(found, exact, 2) == pytest.approx(0.5)


def test_recall_rejects_mismatched_queries():
    with pytest.raises(ValueError):
        recall_at_k([[1]], [[1], [2]], 1)
    with pytest.raises(ValueError, match="at least one query"):
        recall_at_k([], [], 1)


@pytest.fixture(scope="module")
def small():
    queries, vectors, _, padding = dataset(100, 0)
    runs, stopped = compare_engines(queries, vectors)
    return queries, vectors, padding, runs, stopped


def test_dataset_holds_queries_out(small):
    queries, vectors, padding, _, _ = small
    assert queries.shape == (QUERIES, 384)
    assert vectors.shape == (100, 384)
    assert padding == 0
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # No query is also an indexed vector: the best match of each is below a self-match.
    assert (queries @ vectors.T).max() < 0.999


def test_flat_index_matches_brute_force(small):
    queries, vectors, _, runs, stopped = small
    assert not stopped
    assert [engine.name for engine in runs] == list(ENGINES)
    scores = queries @ vectors.T  # (QUERIES, 100)
    for query_scores, found in zip(scores, runs[0].ids):
        top = np.sort(query_scores)[::-1][:TOP_K]
        # Compared by score, because float ties may order equal neighbours either way.
        assert np.allclose(query_scores[found], top, atol=1e-5)


def test_exact_engines_reach_full_recall(small):
    _, _, _, runs, _ = small
    by_name = {engine.name: engine for engine in runs}
    exact = by_name["FAISS flat (exact)"].ids
    assert recall_at_k(by_name["Qdrant local (full scan)"].ids, exact, TOP_K) == 1.0
    for engine in runs:
        assert 0.5 <= recall_at_k(engine.ids, exact, TOP_K) <= 1.0, engine.name
        assert all(len(ids) == TOP_K for ids in engine.ids), engine.name


def test_run_deterministic_given_seed():
    first, second = run(100, 0), run(100, 0)
    assert first.facts["ids"] == second.facts["ids"]
    assert first.facts["recalls"] == second.facts["recalls"]
    assert first.command == "/demo vectordb 100 0"
    assert "Reproduce: `/demo vectordb 100 0`" in first.text
    assert png_size(first.png) == (800, 500)
    other = run(100, 1)
    assert other.facts["ids"] != first.facts["ids"]


def test_padding_with_random_unit_vectors():
    vectors = np.eye(3, dtype=np.float32)
    padded = pad_with_unit_vectors(vectors, 7, seed=5)
    assert padded.shape == (7, 3)
    assert np.array_equal(padded[:3], vectors)
    assert np.allclose(np.linalg.norm(padded, axis=1), 1, atol=1e-6)
    assert np.array_equal(pad_with_unit_vectors(vectors, 7, seed=5), padded)
    assert not np.array_equal(pad_with_unit_vectors(vectors, 7, seed=6), padded)
    assert pad_with_unit_vectors(vectors, 2, seed=5) is vectors


def test_time_limit_stops_after_first_engine(small):
    queries, vectors, _, _, _ = small
    runs, stopped = compare_engines(queries, vectors, time_limit=0)
    assert stopped
    assert [engine.name for engine in runs] == [ENGINES[0]]


def test_arguments_parsed_and_rejected():
    assert parse("") == {}
    assert parse("2000 7") == {"count": 2000, "seed": 7}
    with pytest.raises(ValueError, match="whole number"):
        parse("many")
    with pytest.raises(ValueError, match="between 10 and 20000"):
        parse("5")
    with pytest.raises(ValueError, match="at most two"):
        parse("1 2 3")
