import copy

from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

from llm_gym.spaces import TextSpace, to_printable


def test_text_space_takes_prose_and_the_empty_string():
    space = TextSpace(64)
    assert space.contains("Got 1 stick. Inventory: [planks] (2)")
    assert space.contains("")
    assert not space.contains("x" * 65)
    assert to_printable("caf\u00e9\x00ok") == "caf??ok"


def test_shared_memory_round_trips_each_slot_without_stale_tails():
    space = TextSpace(16)
    memory = create_shared_memory(space, n=3)
    batch = read_from_shared_memory(space, memory, n=3)
    for index, text in enumerate(["a much longer text", "", "caf\u00e9\tok"]):
        write_to_shared_memory(space, index, text, memory)
    assert copy.deepcopy(batch) == ("a much longer te", "", "caf?\tok")
    write_to_shared_memory(space, 0, "short", memory)  # a shorter text over a longer one
    assert batch[0] == "short"  # the view is live
    assert batch[1:] == ("", "caf?\tok")
    assert len(batch) == 3
