"""`/healthz`: what a load balancer polls to know the console answers."""


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
