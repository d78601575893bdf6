"""Issue 17 finding 5: a model replacement killed on every attempt gives up truthfully, then converges to one model."""
from __future__ import annotations

from tests.agent.packages import ROW
from tests.support.stack import WholeStack, unique, until

AGENT = "management-agent"
MODEL = "io.bosun-local.model"


def test_replace_killed_on_every_attempt_converges_to_the_services_model(stack: WholeStack,
                                                                           packages: tuple[str, str]) -> None:
    linear, ridge = packages
    stack.wait_healthy(AGENT)
    with stack.client() as client:
        dep = client.create_deployment(linear, unique("split"))["deployment"]["id"]
        client.wait_for_action(client.list_actions(dep)[0]["id"], timeout=180)
        linear_answer = stack.predict(dep, ROW).json()["data"][0]["prediction"]
        action = client.replace_model(dep, ridge)["action"]["id"]
        # First attempt: killed once both models serve (the split); every later attempt killed as soon as claimed.
        until("both models to serve", lambda: len([c for c in stack.containers(dep) if c.healthy]) == 2
              and client.get_action(action)["status"] == "claimed", 180, every=0.05)
        stack.crash(AGENT)
        attempts = 1
        while True:
            current = until("the replacement to be claimed again or to give up",
                            lambda seen=attempts: a if (a := client.get_action(action))["status"] == "failed"
                            or (a["status"] == "claimed" and a["attempts"] > seen) else None, 120, every=0.05)
            if current["status"] == "failed":
                break
            stack.crash(AGENT)
            attempts = current["attempts"]
        assert "gave up after" in current["result"]["msg"], current["result"]
        failed_state = [e for e in client.list_events(deployment=dep, types=["deployment_state_changed"], limit=50)
                        if e["data"].get("state") == "errored"]
        assert failed_state, "the deployment did not turn errored when its replacement gave up"

        # The agent keeps the model the service reports (the old one) and says what it did; never 'ready' while split.
        samples = []

        def converged() -> bool:
            state = client.get_deployment(dep)
            models = sorted(c.labels[MODEL] for c in stack.containers(dep))
            samples.append((state["state"], models))
            return models == [linear] and state["state"] == "ready"

        until("the deployment to converge to its old model", converged, 180, every=0.3)
        assert not [s for s in samples if s[0] == "ready" and len(s[1]) > 1], samples
        final = client.get_deployment(dep)
        assert final["packageId"] == linear
        events = client.list_events(deployment=dep, types=["deployment_converge_started",
                                                           "deployment_converge_succeeded"], limit=20)
        assert {e["type"] for e in events} == {"deployment_converge_started", "deployment_converge_succeeded"}
        assert any(ridge in e["message"] for e in events), [e["message"] for e in events]
        answers = {stack.predict(dep, ROW).json()["data"][0]["prediction"] for _ in range(20)}
        assert answers == {linear_answer}  # all traffic on the one model
        client.delete_deployment(dep)
