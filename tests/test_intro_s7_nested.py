"""Intro detector, session 7: a full copy matched whole by one sibling and at its ending by two shortened copies.

New tuning seed 113 Star_Freighter E01 (start +18.91 s): its full copy (33.7 s, talked over and faded in at its
start, 2.5 % fast) was matched whole by the one other full copy (E04: a link over 31.7-64.95 s) and at its last
12.7 s by the two shortened copies (E03, E05: links over 52.25-64.95 s). The two intervals' IoU (0.38) is under the
0.4 that joins them into one node, so the theme item held two nodes of E01, and the one with the most links (the
ending) was taken: the intro started at 52.25 s. :func:`reviewer.detect.intro_graph.best_node` now counts, for each
node, the links of the nodes it holds (90 % of their length inside it): the whole copy's node holds the ending's.
The links and intervals below are the ones measured there.
"""

from __future__ import annotations

from reviewer.detect.intro_graph import Item, Link, Node, best_node


def _node(ep, a, links):
    return Node(ep, a, [(lk, 0 if lk.i == ep else 1) for lk in links])


def test_the_node_of_the_whole_copy_holds_the_ending_two_shortened_copies_match():
    whole = Link(0, 3, (31.7, 64.95), (113.52, 147.65), 0.86)
    ends = [Link(0, 4, (52.25, 64.95), (90.06, 103.02), 0.82), Link(0, 2, (52.3, 64.9), (43.65, 56.63), 0.80)]
    full, ending = _node(0, (31.7, 64.95), [whole]), _node(0, (52.25, 64.95), ends)
    item = Item([full, ending, _node(3, (113.52, 147.65), [whole]), _node(4, (88.33, 103.02), ends[:1]),
                 _node(2, (41.95, 56.65), ends[1:])])
    assert best_node(item, 0) is full
    # before: the most links alone (the ending's two)
    assert best_node(item, 0, nested=2.0) is ending


def test_apart_nodes_still_go_by_their_own_links():
    a = [Link(0, 1, (10.0, 40.0), (12.0, 42.0), 0.9)]
    b = [Link(0, 2, (100.0, 130.0), (20.0, 50.0), 0.9), Link(0, 3, (100.0, 130.0), (30.0, 60.0), 0.9)]
    one, two = _node(0, (10.0, 40.0), a), _node(0, (100.0, 130.0), b)
    assert best_node(Item([one, two]), 0) is two
