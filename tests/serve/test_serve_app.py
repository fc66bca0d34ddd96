"""The prediction server through FastAPI's TestClient: every endpoint and every limit, on the
ONNX export and on the PyTorch run (tiny random model: plumbing, never accuracy)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from headstart.serve.app import create_app
from headstart.serve.backends import Backend, load_backend
from headstart.serve.limits import MB, Limits
from tests.deploy_helpers import bomb_png, png_bytes

RED, BLUE = png_bytes(colour=(200, 30, 30)), png_bytes(colour=(40, 50, 210))


@pytest.fixture(params=["onnx", "torch"])
def backend(request, image_run: Path, image_export: Path) -> Backend:
    return load_backend(image_export if request.param == "onnx" else image_run, precision="fp32")


def client(backend: Backend, **limits) -> TestClient:
    return TestClient(create_app(backend, Limits(**limits)), raise_server_exceptions=False)


def files(*items: tuple[str, bytes]) -> list:
    return [("file", (name, data, "image/png")) for name, data in items]


def test_predict_answers_top_k_per_image(backend: Backend) -> None:
    c = client(backend)
    r = c.post("/predict", files=files(("red.png", RED), ("blue.png", BLUE)), params={"top_k": 2})
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert [p["input"] for p in preds] == ["red.png", "blue.png"]
    for p in preds:
        assert len(p["top"]) == 2 and {t["class"] for t in p["top"]} <= {"red", "green", "blue"}
        assert p["top"][0]["prob"] >= p["top"][1]["prob"]
    full = c.post("/predict", files=files(("red.png", RED))).json()["predictions"][0]["top"]
    assert len(full) == 3 and abs(sum(t["prob"] for t in full) - 1) < 1e-4  # top_k <= classes


def test_health_info_and_page(backend: Backend) -> None:
    c = client(backend)
    assert c.get("/health").json() == {"status": "ok"}
    info = c.get("/info").json()
    assert info["task"] == "image-classification" and info["classes"] == ["blue", "green", "red"]
    assert info["preprocessing"]["input_size"][0] == 3 and info["limits"]["max_files"] == 16
    assert info["engine"].startswith(("onnxruntime", "pytorch"))
    page = c.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "textContent" in page.text and "innerHTML" not in page.text


def test_every_limit_is_a_clear_4xx_json_error(backend: Backend) -> None:
    c = client(backend, max_request_bytes=MB, max_files=2, max_pixels=1_000_000)
    cases = [
        (dict(files=files(("x.png", b"\0" * (MB + 10)))), 413, "over the limit of 1.0 MB"),
        (dict(files=files(("a", RED), ("b", RED), ("c", RED))), 413, "Too many files"),
        (dict(files=files(("big.png", bomb_png()))), 413, "big.png"),
        (dict(files=files(("wide.png", png_bytes((2000, 600), noise=0)))), 413, "1,200,000 pixels"),
        (dict(files=files(("cut.png", RED[: len(RED) // 2]))), 400, "cut.png cannot be decoded"),
        (dict(files=files(("doc.png", b"%PDF-1.4"))), 400, "not an image"),
        (dict(content=b"\x89PNG", headers={"content-type": "image/png"}), 415, "multipart"),
        (dict(json={"texts": ["a"]}), 415, "multipart/form-data"),
        (dict(data={"note": "no file"}, files=[]), 415, "multipart"),
        (dict(files=[("photo", ("a.png", RED, "image/png"))]), 400, "unexpected file field"),
        (dict(files=files(("a.png", RED)), params={"top_k": 0}), 400, "top_k"),
        (dict(files=files(("a.png", RED)), params={"top_k": "x"}), 400, "top_k"),
        (
            dict(content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data"}),
            400,
            "multipart",
        ),
    ]
    for kwargs, status, words in cases:
        r = c.post("/predict", **kwargs)
        assert r.status_code == status, (kwargs.keys(), r.text)
        assert words in r.json()["error"]
        assert c.get("/health").status_code == 200  # still serving
    assert c.get("/nowhere").json() == {"error": "Not Found"}
    assert c.get("/predict").status_code == 405


def test_a_body_without_length_is_cut_at_the_limit(backend: Backend) -> None:
    def chunks():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        for _ in range(40):
            yield b"\0" * 64 * 1024

    c = client(backend, max_request_bytes=MB)
    r = c.post(
        "/predict", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert r.status_code == 413 and "at least" in r.json()["error"]


def test_uploads_stay_in_memory(backend: Backend, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    big = png_bytes((1400, 1000))  # about 4 MB of noise: past starlette's 1 MB spool limit
    assert len(big) > 3 * MB
    r = client(backend).post("/predict", files=files(("big.png", big)))
    assert r.status_code == 200
    assert list(tmp_path.iterdir()) == []


class Slow(Backend):
    def __init__(self, inner: Backend, seconds: float = 0.0, fail: bool = False):
        self.inner, self.seconds, self.fail = inner, seconds, fail
        self.task, self.classes = inner.task, inner.classes
        self.preprocessing = inner.preprocessing
        self.batches: list[int] = []

    def infer(self, items):
        self.batches.append(len(items))
        time.sleep(self.seconds)
        if self.fail:
            raise RuntimeError("model exploded")
        return self.inner.infer(items)

    def info(self):
        return self.inner.info()


def test_timeout_and_model_failures_answer_json_and_the_server_goes_on(backend: Backend) -> None:
    slow = client(Slow(backend, seconds=1.0), timeout_s=0.2)
    r = slow.post("/predict", files=files(("a.png", RED)))
    assert r.status_code == 408 and "longer than 0.2 s" in r.json()["error"]
    broken = client(Slow(backend, fail=True))
    r = broken.post("/predict", files=files(("a.png", RED)))
    assert r.status_code == 500 and "RuntimeError" in r.json()["error"]
    assert broken.get("/health").status_code == 200


def test_concurrent_requests_share_model_runs(backend: Backend) -> None:
    counting = Slow(backend, seconds=0.05)
    app = create_app(counting, Limits(batch_wait_ms=20, max_batch=32))
    alone = TestClient(app).post("/predict", files=files(("r", RED))).json()

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await asyncio.gather(
                *[c.post("/predict", files=files(("r", RED))) for _ in range(12)]
            )

    counting.batches.clear()
    answers = asyncio.run(burst())
    assert all(r.status_code == 200 for r in answers)
    assert sum(counting.batches) == 12 and len(counting.batches) < 12  # batched together
    for r in answers:  # a batched answer is the answer the request gets alone
        got = [t["prob"] for t in r.json()["predictions"][0]["top"]]
        assert np.allclose(got, [t["prob"] for t in alone["predictions"][0]["top"]], atol=1e-5)


def test_serve_refuses_what_it_cannot_serve(image_export: Path, tmp_path: Path, capsys) -> None:
    from headstart.cli.main import main

    assert main(["serve", str(tmp_path / "nothing")]) == 2
    assert "give an export folder" in capsys.readouterr().err
    assert main(["serve", str(tmp_path)]) == 2  # a folder that is neither
    assert "no checkpoint at" in capsys.readouterr().err


def test_limits_must_be_positive() -> None:
    from headstart.errors import HeadstartError

    with pytest.raises(HeadstartError, match="--max-files 0: must be an integer >= 1"):
        Limits(max_files=0)
