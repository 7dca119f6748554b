"""Write the seed corpus (fuzz/seeds/<protocol>/*) from the shared real fixtures and documented
message shapes. Frames of one seed are joined by NUL bytes (see rust/venues/harness.rs)."""

import csv
import json
import re
from pathlib import Path

HERE = Path(__file__).parent
FIX = HERE.parent.parent / "shared" / "fixtures" / "venues"


def write(proto: str, name: str, frames: list[str]) -> None:
    d = HERE / "seeds" / proto
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(b"\0".join(f.encode() for f in frames))


# Bybit: the real capture (snapshot + first deltas)
lines = (FIX / "bybit" / "xrpusdt_orderbook500_2024-12-01.jsonl").read_text().splitlines()
write("bybit", "capture", lines[:8])
write("bybit", "small", [
    '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["16493.50","0.006"]],"a":[["16611.00","0.029"]],"u":18521288,"seq":7961638724},"cts":1}',
    '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":2,"data":{"s":"BTCUSDT","b":[["16493.50","0"],["16490","1.5"]],"a":[],"u":18521289,"seq":7961638725},"cts":2}',
    '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","i":"x","BT":false}]}',
    '{"success":true,"ret_msg":"","conn_id":"x","req_id":"","op":"subscribe"}',
])

# Binance spot: buffered event, REST snapshot, live events
write("binance_spot", "sync", [
    '{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}',
    '{"lastUpdateId":158,"bids":[["0.0024","5"],["0.0023","1"]],"asks":[["0.0026","12"]]}',
    '{"e":"depthUpdate","E":1672515782137,"s":"BNBBTC","U":161,"u":163,"b":[["0.0023","0"]],"a":[["0.0027","1"]]}',
    '{"stream":"bnbbtc@depth","data":{"e":"depthUpdate","E":1672515782138,"s":"BNBBTC","U":164,"u":164,"b":[],"a":[["0.0026","0"]]}}',
    '{"e":"trade","E":1,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1,"m":true,"M":true}',
    '{"result":null,"id":1}',
])

# Binance USD-M: the real event from the CSV fixture, with a chaining snapshot
rows = list(csv.reader((FIX / "binance" / "usdm_btcusdt_depth_update.csv").open()))[1:]
r0 = rows[0]
U, u, pu = r0[2], r0[3], r0[8]
bids = [[r[6], r[7]] for r in rows if r[4] == "bid"]
asks = [[r[6], r[7]] for r in rows if r[4] == "ask"]
ev = {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": int(U), "u": int(u), "pu": int(pu), "b": bids, "a": asks}
snap = {"lastUpdateId": int(U) + 10, "E": 1, "T": 1, "bids": [["20000.0", "1"]], "asks": [["20100.0", "1"]]}
nxt = {"e": "depthUpdate", "E": 2, "T": 2, "s": "BTCUSDT", "U": int(u) + 1, "u": int(u) + 5, "pu": int(u), "b": [["20001.0", "2"]], "a": []}
write("binance_usdm", "real_event", [json.dumps(ev), json.dumps(snap), json.dumps(nxt)])

# OKX: documented snapshot and update shapes
write("okx", "books", [
    '{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}',
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["8476.98","415","0","13"],["8477","7","0","2"]],"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"]],"ts":"1597026383085","checksum":0,"prevSeqId":-1,"seqId":123456}]}',
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","0","0","0"]],"bids":[["8476.5","3","0","1"]],"ts":"1597026383086","checksum":0,"prevSeqId":123456,"seqId":123457}]}',
    '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"8476.9","sz":"0.1","side":"buy","ts":"1597026383087"}]}',
    "pong",
])

# Kraken v2: the documented checksum snapshot, then an update
doc = json.loads((FIX / "kraken" / "book_v2_checksum_docs_example.json").read_text())
# the wire carries numbers, not strings: keep the exact digits
kraken_snap = re.sub(r'"(price|qty)": "([0-9.]+)"', r'"\1": \2', json.dumps(doc.get("message", doc)))
write("kraken", "docs", [kraken_snap] + [
    '{"channel":"heartbeat"}',
    '{"method":"subscribe","result":{"channel":"book","symbol":"BTC/USD","depth":10,"snapshot":true},"success":true,"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}',
])

# Coinbase Advanced Trade level2
write("coinbase", "level2", [
    '{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}',
    '{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":1,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"},{"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"21921.74","new_quantity":"1.2"}]}]}',
    '{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:51.714964855Z","sequence_num":2,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2023-02-09T20:32:51.7Z","price_level":"21921.73","new_quantity":"0"}]}]}',
    '{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:52Z","sequence_num":3,"events":[{"current_time":"2023-02-09 20:32:52 +0000 UTC","heartbeat_counter":3}]}',
])
print("seeds written")
