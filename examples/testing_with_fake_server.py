"""Test your own code against ollamakit.testing.FakeOllama (no Ollama needed)."""

from ollamakit import Client, StreamError
from ollamakit.testing import FakeOllama, Reply, chat_stream


def summarise(client: Client, text: str) -> str:
    stream = client.chat(
        "llama3.2", [{"role": "user", "content": f"Summarise: {text}"}], stream=True
    )
    return "".join(stream.text())


with FakeOllama() as server:
    server.expect("POST", "/api/chat", Reply.ndjson(chat_stream(["A", " summary"])))
    client = Client(server.url)
    assert summarise(client, "long text") == "A summary"
    assert server.requests[-1].json()["messages"][0]["content"] == "Summarise: long text"

    server.expect("POST", "/api/chat", Reply.ndjson([*chat_stream(["A"])[:1], {"error": "boom"}]))
    try:
        summarise(client, "again")
    except StreamError as error:
        print("surfaced the server's error:", error.error)
print("ok")
