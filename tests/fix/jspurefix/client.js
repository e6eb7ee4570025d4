// A jspurefix initiator driven by the Python test: logs on to the exchange's FIX gateway,
// places a resting limit sell, prints "READY" once it is accepted, waits for a fill (the
// Python side buys), cancels the rest, logs out. Every message it receives is printed as
// one JSON line {"msgType": ..., "body": {...}} so the test can check the tags.
"use strict";
require("reflect-metadata");
const { SessionLauncher, AsciiSession } = require("jspurefix");

const [host, port, sender, password, clOrdId] = process.argv.slice(2);

class Peer extends AsciiSession {
  constructor(config) {
    super(config);
    this.logReceivedMsgs = false;
    this.orderId = null;
  }
  record(msgType, view) {
    process.stdout.write(JSON.stringify({ msgType, body: view.toObject() }) + "\n");
  }
  onApplicationMsg(msgType, view) {
    this.record(msgType, view);
    if (msgType !== "8") return;
    const report = view.toObject();
    if (report.ExecType === "0") {
      this.orderId = report.OrderID;
      process.stdout.write("READY\n");
    } else if (report.ExecType === "F" || report.ExecType === "1" || report.ExecType === "2") {
      this.send("F", {
        OrigClOrdID: clOrdId,
        OrderID: this.orderId,
        ClOrdID: `${clOrdId}-cxl`,
        Instrument: { Symbol: "FOOLAD" },
        Side: "2",
        TransactTime: new Date(),
      });
    } else if (report.ExecType === "4") {
      this.done();
    }
  }
  onReady(view) {
    this.send("D", {
      ClOrdID: clOrdId,
      Instrument: { Symbol: "FOOLAD" },
      Side: "2",
      TransactTime: new Date(),
      OrderQtyData: { OrderQty: 300 },
      OrdType: "2",
      Price: 5430,
      TimeInForce: "1",
    });
  }
  onLogon(view, user, pw) {
    return true;
  }
  onStopped() {
    process.stdout.write("STOPPED\n");
    process.exit(0);
  }
  onDecoded() {}
  onEncoded() {}
}

class Launcher extends SessionLauncher {
  constructor() {
    super({
      application: {
        reconnectSeconds: 0, type: "initiator", name: "peer",
        tcp: { host, port: Number(port) }, protocol: "ascii", dictionary: "repo44",
      },
      Username: sender, Password: password, EncryptMethod: 0, ResetSeqNumFlag: true,
      HeartBtInt: 30, SenderCompId: sender, TargetCompID: "EXCHANGE", BeginString: "FIX.4.4",
    });
  }
  makeFactory() {
    return { makeSession: (config) => new Peer(config) };
  }
}

new Launcher().run().catch((e) => { console.error(e); process.exit(2); });
setTimeout(() => { console.error("timeout"); process.exit(3); }, 60000);
