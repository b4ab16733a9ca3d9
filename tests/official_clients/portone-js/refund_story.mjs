// The refund story, told by the official PortOne server SDK (@portone/server-sdk), unchanged,
// against the kr-payments sandbox. Usage: node refund_story.mjs PORTONE_V2_ORIGIN
//
// Each check asserts the SDK's own result: its return value, or the error it throws (an
// instance of the SDK's PortOneError and Payment.PaymentError, its class name, and data.type).
import { PaymentClient, PortOneError, Payment } from "@portone/server-sdk";

const baseUrl = process.argv[2];
const secret = "sandbox-secret";
const client = PaymentClient({ secret, baseUrl });
let passed = 0;
let failed = 0;

function assert(cond, what) {
  if (!cond) throw new Error(what);
}

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   portone-js: ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL portone-js: ${name}: ${e && e.stack ? e.stack.split("\n")[0] : e}`);
  }
}

async function expectError(className, type, fn) {
  let thrown;
  try {
    await fn();
  } catch (e) {
    thrown = e;
  }
  assert(thrown !== undefined, `no ${className} thrown`);
  assert(thrown instanceof PortOneError, `not a PortOneError: ${thrown}`);
  assert(thrown instanceof Payment.PaymentError, `not a Payment.PaymentError: ${thrown}`);
  assert(thrown.name === className, `${thrown.name}, expected ${className}`);
  assert(thrown.data && thrown.data.type === type, `type ${thrown.data && thrown.data.type}, expected ${type}`);
}

const cancel = (options) => client.cancelPayment({ reason: "refund", ...options });

await check("get payment", async () => {
  const p = await client.getPayment({ paymentId: "js-card" });
  assert(p.status === "PAID" && p.amount.total === 10000, JSON.stringify(p.amount));
});
await check("guarded partial cancel 1", async () => {
  const { cancellation } = await cancel({ paymentId: "js-card", amount: 3000, currentCancellableAmount: 10000 });
  assert(cancellation.status === "SUCCEEDED" && cancellation.totalAmount === 3000, JSON.stringify(cancellation));
});
await check("guarded partial cancel 2", async () => {
  const { cancellation } = await cancel({ paymentId: "js-card", amount: 2000, currentCancellableAmount: 7000 });
  assert(cancellation.status === "SUCCEEDED" && cancellation.totalAmount === 2000, JSON.stringify(cancellation));
});
await check("stale-guard replay refused", async () => {
  await expectError("CancelPaymentError", "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN", () =>
    cancel({ paymentId: "js-card", amount: 3000, currentCancellableAmount: 10000 }),
  );
  const p = await client.getPayment({ paymentId: "js-card" });
  assert(p.amount.cancelled === 5000, `cancelled ${p.amount.cancelled}`);
});
await check("over-refund refused", async () => {
  await expectError("CancelPaymentError", "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT", () =>
    cancel({ paymentId: "js-card", amount: 6000 }),
  );
});
await check("full cancel", async () => {
  const { cancellation } = await cancel({ paymentId: "js-card", currentCancellableAmount: 5000 });
  assert(cancellation.totalAmount === 5000, JSON.stringify(cancellation));
  const p = await client.getPayment({ paymentId: "js-card" });
  assert(p.status === "CANCELLED" && p.cancellations.length === 3, p.status);
});
await check("virtual-account refund without an account refused", async () => {
  await expectError("CancelPaymentError", "INVALID_REQUEST", () => cancel({ paymentId: "js-vbank" }));
});
await check("virtual-account refund with an account", async () => {
  const { cancellation } = await cancel({
    paymentId: "js-vbank",
    refundAccount: { bank: "SHINHAN", number: "110123456789", holderName: "Sandbox Buyer" },
  });
  assert(cancellation.status === "SUCCEEDED" && cancellation.totalAmount === 8000, JSON.stringify(cancellation));
});
await check("unknown payment", async () => {
  await expectError("GetPaymentError", "PAYMENT_NOT_FOUND", () => client.getPayment({ paymentId: "no-such-payment" }));
});
await check("wrong credentials", async () => {
  const wrong = PaymentClient({ secret: "wrong-secret", baseUrl });
  await expectError("GetPaymentError", "UNAUTHORIZED", () => wrong.getPayment({ paymentId: "js-card" }));
});
await check("close an unpaid virtual account", async () => {
  const { closedAt } = await client.closeVirtualAccount({ paymentId: "js-vbank-unpaid" });
  assert(typeof closedAt === "string", "closedAt");
  await expectError("CancelPaymentError", "PAYMENT_ALREADY_CANCELLED", () => cancel({ paymentId: "js-vbank-unpaid" }));
});
await check("an unsupported operation is a typed error", async () => {
  await expectError("CapturePaymentError", "SANDBOX_NOT_SUPPORTED", () => client.capturePayment({ paymentId: "js-card" }));
});

console.log(`portone-js: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
