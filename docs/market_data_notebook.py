"""Market data as DataFrames: a sandbox run's deals and ticks in pandas, price and SoC plotted."""

# %% [markdown]
# # Market data as DataFrames: a sandbox afternoon in pandas
#
# A notebook in percent format (`# %%` cells): open it in Jupyter (jupytext), VS Code or
# Spyder, or run it as a script:
#
#     python docs/market_data_notebook.py [OUTPUT_DIR]
#
# It runs a simulation in the embedded sandbox market (no account, no server), pulls the
# market's deals and the ticks an observer received into pandas DataFrames with
# `flxtrd.frames`, and plots the price next to the batteries' state of charge. It needs the
# optional extras: `pip install 'flxtrd[pandas,plot]'`.

# %%
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw into files; no display needed
import matplotlib.pyplot as plt

from flxtrd import Battery, FixedMarginSeller, SandboxSimulation, TickFollowingBuyer, frames

OUTPUT_DIR = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
HOUR_MS = 3_600_000

# %% [markdown]
# ## Two batteries sell, two buyers follow the market
#
# Each battery sells what it holds above its minimum at cost plus a margin (battery-b: none);
# the buyers bid near the last trade price. The sandbox runs on its own clock: three simulated
# hours take seconds. An observer account connects first, so it receives the market's ticks
# (every trade) as its generation-1 replies.

# %%
bots = {
    "battery-a": FixedMarginSeller(Battery(10_000, soc=0.9, max_discharge_w=2_500)),
    "battery-b": FixedMarginSeller(
        Battery(6_000, soc=0.7, max_discharge_w=1_500), margin_per_kwh=0.0
    ),
    "buyer-a": TickFollowingBuyer(2_000),
    "buyer-b": TickFollowingBuyer(1_000),
}
sim = SandboxSimulation(bots, seed=7)
observer = sim.client("observer")
observer.connect()  # its reply queue exists before the first trade: it gets every tick
with sim:  # connects the bots and runs the first step
    sim.run_for(3 * HOUR_MS)
    deals = observer.deals("1d")  # GET /deals/ on the simulated clock
    ticks = list(observer.market_messages(timeout=0.5))  # what has arrived, then 0.5 s quiet
    timeline = sim.runner.timeline
    observer.close()

# %% [markdown]
# ## Into DataFrames
#
# Every frame has a tz-aware UTC `DatetimeIndex`, units in the column names and categorical
# statuses (the schemas are in `flxtrd.frames`' docstring).

# %%
deals_df = frames.deals_frame(deals)
ticks_df = frames.ticks_frame(ticks)
states_df = frames.run_states_frame(timeline)
print("deals", deals_df.shape)
print("ticks", ticks_df.shape)
print("states", states_df.shape)
print(deals_df[["price_eur_per_kwh", "energy_wh", "value_eur"]].describe().round(3))

# %% [markdown]
# Energy traded per delivery quarter hour, and the volume-weighted average price:

# %%
by_slot = deals_df.groupby("delivery_start").agg(
    energy_wh=("energy_wh", "sum"), value_eur=("value_eur", "sum")
)
by_slot["vwap_eur_per_kwh"] = by_slot["value_eur"] / (by_slot["energy_wh"] / 1000)
print("slots", by_slot.shape)
print(by_slot.head().round(4))

# %% [markdown]
# ## Price and state of charge

# %%
soc = states_df.pivot_table(index=states_df.index, columns="bot", values="soc_pct", observed=True)
figure, (price_ax, soc_ax) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
price_ax.step(ticks_df.index, ticks_df["price_eur_per_kwh"], where="post", label="tick price")
price_ax.set_ylabel("price (EUR/kWh)")
price_ax.legend(loc="upper left")
for name in soc.columns:
    soc_ax.plot(soc.index, soc[name], label=f"{name} SoC")
soc_ax.set_ylabel("state of charge (%)")
soc_ax.set_xlabel("time (UTC)")
soc_ax.legend(loc="upper right")
figure.tight_layout()
png = OUTPUT_DIR / "market_data.png"
figure.savefig(png, dpi=80)
plt.close(figure)
print("plot", png)
