"""The pytest plugin itself: a fresh server per test through ``jcr_server`` (reset after it), the
seed, the request journal, the clock, faults, and the context manager for other runners."""

import requests

from jcr_reference import JcrServer

AUTH = ("admin", "password")


def test_a_change_is_gone_after_the_reset(jcr_server):
    r = requests.put(jcr_server.url + "/generic-local/plugin/a.txt", data=b"a", auth=jcr_server.auth)
    assert r.status_code == 201, r.text
    jcr_server.reset()
    assert requests.get(jcr_server.url + "/generic-local/plugin/a.txt", auth=AUTH).status_code == 404


def test_the_previous_test_left_nothing(jcr_server):
    assert requests.get(jcr_server.url + "/generic-local/plugin/a.txt", auth=AUTH).status_code == 404


def test_seed_journal_clock_and_faults(jcr_server):
    jcr_server.seed({"generic-local/plugin/seeded.txt;team=core": b"seeded"})
    requests.delete(jcr_server.url + "/generic-local/plugin/seeded.txt", auth=AUTH)
    jcr_server.reset()
    r = requests.get(jcr_server.url + "/generic-local/plugin/seeded.txt", auth=AUTH)
    assert (r.status_code, r.text) == (200, "seeded")
    assert requests.get(jcr_server.url + "/generic-local/plugin/seeded.tx", auth=AUTH).status_code == 404
    miss = jcr_server.requests(status=404)[0]
    assert miss["nearMisses"] == ["/artifactory/generic-local/plugin/seeded.txt"], miss
    c = jcr_server.clock(set="2030-01-01T00:00:00Z", freeze=True)
    assert c["iso"] == "2030-01-01T00:00:00.000Z"
    r = requests.put(jcr_server.url + "/generic-local/plugin/dated.txt", data=b"d", auth=AUTH)
    assert r.json()["created"] == "2030-01-01T00:00:00.000Z"
    jcr_server.clock(freeze=False)
    jcr_server.fault("/artifactory/api/system/ping", status=503, times=1)
    assert requests.get(jcr_server.url + "/api/system/ping").status_code == 503
    assert requests.get(jcr_server.url + "/api/system/ping").text == "OK"
    # Back to the seed chosen above for the next tests of this session.
    jcr_server.reset()


def test_the_context_manager_for_other_runners():
    with JcrServer(args=["--anonymous-access", "true"]) as jcr:
        assert requests.get(jcr.url + "/api/repositories").status_code == 200
        url = jcr.url
    try:
        requests.get(url + "/api/system/ping", timeout=2)
        raise AssertionError("the server still answers after the with block")
    except requests.ConnectionError:
        pass
