import asyncio

from alchemiser_cli.clock import LoopClock, run
from alchemiser_cli.core.ratelimit import RateLimiter


def test_no_sixty_second_window_exceeds_the_limit_and_throughput_is_close_to_it():
    async def main():
        clock = LoopClock()
        limiter = RateLimiter(clock, 200)
        stamps: list[float] = []

        async def worker():
            for _ in range(100):
                await limiter.acquire()
                stamps.append(clock.monotonic())

        await asyncio.gather(*(worker() for _ in range(6)))
        return stamps

    stamps = sorted(run(main, virtual=True))
    assert len(stamps) == 600
    for i, start in enumerate(stamps):
        in_window = sum(1 for t in stamps[i:] if t < start + 60)
        assert in_window <= 200
    assert stamps[-1] - stamps[0] < 60 * 600 / 200 * 1.1


def test_a_429_pauses_the_whole_bucket():
    async def main():
        clock = LoopClock()
        limiter = RateLimiter(clock, 200)
        await limiter.acquire()
        limiter.pause(5.0)
        before = clock.monotonic()
        await limiter.acquire()
        return clock.monotonic() - before

    assert run(main, virtual=True) >= 5.0


def test_the_window_still_applies_after_a_pause_ends():
    async def main():
        clock = LoopClock()
        limiter = RateLimiter(clock, 1)
        await limiter.acquire()  # the one request of this minute
        limiter.pause(5.0)
        await limiter.acquire()
        return clock.monotonic()

    assert run(main, virtual=True) == 60.0  # not 5: the minute's budget was already spent


def test_the_sustained_rate_is_the_per_minute_limit():
    limiter = RateLimiter(LoopClock(), 200)
    assert (limiter.capacity, limiter.rate) == (200, 200 / 60)


class CountingClock(LoopClock):
    """The loop's clock, counting how often a waiter went to sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps = 0

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await super().sleep(seconds)


def test_a_caller_held_by_a_pause_sleeps_until_it_ends_instead_of_spinning():
    async def main():
        clock = CountingClock()
        limiter = RateLimiter(clock, 200)
        limiter.pause(30.0)
        await limiter.acquire()
        return clock.sleeps, clock.monotonic()

    sleeps, when = run(main, virtual=True)
    assert when == 30.0
    assert sleeps == 1  # one wake-up at the end of the pause, not one per millisecond


def test_a_caller_held_by_a_full_window_sleeps_until_a_slot_frees():
    async def main():
        clock = CountingClock()
        limiter = RateLimiter(clock, 2)
        await limiter.acquire()
        await limiter.acquire()
        await limiter.acquire()  # waits for the first request to leave the window
        return clock.sleeps, clock.monotonic()

    sleeps, when = run(main, virtual=True)
    assert when == 60.0 and sleeps == 1
