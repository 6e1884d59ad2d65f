"""sgd_spectra.resources: the job sizes the rules ask a cluster for, against hand computations."""

from sgd_spectra import resources


def test_memory_counts_matrices_and_doubles_per_attempt():
    # N = 3000: one float64 N x N matrix is 3000^2 * 8 bytes = 68.66 MiB
    one = resources.mem_for(1, n=3000, matrices=5, extra_mb=100)
    assert one == 2444  # ceil(2000 + 5 * 68.66 + 100) = ceil(2443.3)
    assert resources.mem_for(2, n=3000, matrices=5, extra_mb=100) == 4887  # ceil(2 * 2443.3)
    assert resources.mem_for(3) == 8000


def test_wall_time_is_the_floor_plus_the_safety_margin_and_doubles():
    assert resources.minutes_for(1) == 10
    assert resources.minutes_for(1, seconds=600) == 10 + 3 * 10
    assert resources.minutes_for(2, seconds=600, margin=1) == 2 * (10 + 10)
    assert [resources.retry_factor(a) for a in (1, 2, 3)] == [1, 2, 4]


def test_allocator_environment_adds_the_malloc_settings_and_keeps_a_users_own():
    added = resources.allocator_environment({"PATH": "/usr/bin"})
    assert added == resources.MALLOC_ENV
    # glibc takes sizes in bytes: blocks up to 4 GiB from the heap, and the heap's free top kept
    assert int(added["MALLOC_MMAP_THRESHOLD_"]) == 4 * 2**30
    assert int(added["MALLOC_TRIM_THRESHOLD_"]) >= int(added["MALLOC_MMAP_THRESHOLD_"])
    mine = {"MALLOC_MMAP_THRESHOLD_": "131072"}
    assert resources.allocator_environment(mine) == {"MALLOC_TRIM_THRESHOLD_": str(64 * 2**30)}
