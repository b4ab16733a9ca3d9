"""The refund story, told by the official iamport Python client (iamport-rest-client), unchanged,
against the kr-payments sandbox. Usage: refund_story.py IAMPORT_BASE_URL (ending in /).

Each check asserts the client's own result: its return value, or the exception class it raises
(Iamport.ResponseError for code != 0, Iamport.HttpError for an HTTP error) with its code.
"""
import sys

from iamport import Iamport

BASE = sys.argv[1]
KEY, SECRET = "sandbox-imp-key", "sandbox-imp-secret"
CARD, VBANK, UNPAID = "imp_100000000901", "imp_100000000902", "imp_100000000903"

client = Iamport(imp_key=KEY, imp_secret=SECRET, imp_url=BASE)
passed, failed = 0, 0


def check(name, fn):
    global passed, failed
    try:
        fn()
    except Exception as e:  # a failed check, whatever raised it
        failed += 1
        print(f"FAIL iamport-python: {name}: {type(e).__name__}: {e}")
    else:
        passed += 1
        print(f"ok   iamport-python: {name}")


def expect(exc_type, code, fn):
    try:
        fn()
    except exc_type as e:
        if e.code != code:
            raise AssertionError(f"{exc_type.__name__} with code {e.code}, expected {code}")
        return
    raise AssertionError(f"no {exc_type.__name__} raised")


def get_payment():
    p = client.find(imp_uid=CARD)
    assert (p["status"], p["amount"], p["cancel_amount"]) == ("paid", 10000, 0), p


def first_partial():
    p = client.cancel("size", imp_uid=CARD, amount=3000, checksum=10000)
    assert (p["status"], p["cancel_amount"]) == ("paid", 3000), p


def second_partial():
    p = client.cancel("color", imp_uid=CARD, amount=2000, checksum=7000)
    assert p["cancel_amount"] == 5000 and len(p["cancel_history"]) == 2, p


def stale_replay():
    expect(Iamport.ResponseError, 1, lambda: client.cancel("size", imp_uid=CARD, amount=3000, checksum=10000))
    assert client.find(imp_uid=CARD)["cancel_amount"] == 5000


def over_refund():
    expect(Iamport.ResponseError, 1, lambda: client.cancel("too much", imp_uid=CARD, amount=6000, checksum=5000))


def full_cancel():
    p = client.cancel("rest", imp_uid=CARD, checksum=5000)
    assert (p["status"], p["cancel_amount"]) == ("cancelled", 10000), p


def vbank_without_account():
    expect(Iamport.ResponseError, 1, lambda: client.cancel("refund", imp_uid=VBANK))


def vbank_with_account():
    p = client.cancel(
        "refund", imp_uid=VBANK, refund_holder="Sandbox Buyer", refund_bank="88", refund_account="110123456789"
    )
    assert (p["status"], p["cancel_amount"]) == ("cancelled", 8000), p


def unknown_payment():
    expect(Iamport.HttpError, 404, lambda: client.find(imp_uid="imp_999999999999"))


def wrong_credentials():
    wrong = Iamport(imp_key=KEY, imp_secret="wrong-secret", imp_url=BASE)
    expect(Iamport.HttpError, 401, lambda: wrong.find(imp_uid=CARD))


def prepare_and_validate():
    client.prepare(merchant_uid="py-prepared", amount=4000)
    assert client.prepare_validate(merchant_uid="py-prepared", amount=4000) is True
    assert client.prepare_validate(merchant_uid="py-prepared", amount=4001) is False


def revoke_unpaid_vbank():
    p = client.revoke_vbank_by_imp_uid(UNPAID)
    assert p["status"] == "cancelled", p


for name, fn in [
    ("get payment", get_payment),
    ("guarded partial cancel 1", first_partial),
    ("guarded partial cancel 2", second_partial),
    ("stale-guard replay refused", stale_replay),
    ("over-refund refused", over_refund),
    ("full cancel", full_cancel),
    ("virtual-account refund without an account refused", vbank_without_account),
    ("virtual-account refund with an account", vbank_with_account),
    ("unknown payment", unknown_payment),
    ("wrong credentials", wrong_credentials),
    ("prepare and validate", prepare_and_validate),
    ("close an unpaid virtual account", revoke_unpaid_vbank),
]:
    check(name, fn)

print(f"iamport-python: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
