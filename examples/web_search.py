"""Web search and fetch through ollama.com (needs OLLAMA_API_KEY)."""

import os

import ollamakit

client = ollamakit.Client(web_url=os.environ.get("OLLAMAKIT_WEB_URL", "https://ollama.com"))
try:
    results = client.web_search("What is Ollama?", max_results=2)
except ollamakit.RequestError as error:  # no API key
    print(error)
else:
    for result in results.results:
        print(result.title, result.url)
    if results.results and results.results[0].url:
        page = client.web_fetch(results.results[0].url)
        print((page.content or "")[:200])
