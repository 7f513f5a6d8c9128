import prefstats
def test_x():
    assert prefstats
