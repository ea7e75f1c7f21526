"""The simulated store's product catalogue.

Unit weights span 24 g (a chewing-gum pack, the lightest AiFi product) to 1.5 kg, with
per-unit spreads of about 1-5 g (AiFi's median spread is 1.35 g). Groups of products with
near-identical weights are placed on the same shelf by the layout, so that weight alone
cannot tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimProduct:
    sku: str
    name: str
    weight_g: float
    weight_sd_g: float
    price: float
    colour_bgr: tuple[int, int, int]  # packaging colour seen from above


# fmt: off
PRODUCTS: tuple[SimProduct, ...] = (
    # sku        name                              grams   sd    price  colour (BGR)
    SimProduct("P01", "Spearmint gum 10 pack",          24.0, 1.0, 1.49, (60, 200, 60)),
    SimProduct("P02", "Peppermint gum 10 pack",         25.0, 1.0, 1.49, (200, 220, 240)),
    SimProduct("P03", "Dark chocolate bar 100 g",      104.0, 1.5, 2.29, (30, 40, 110)),
    SimProduct("P04", "Milk chocolate bar 100 g",      105.5, 1.5, 2.19, (150, 60, 120)),
    SimProduct("P05", "Salted crisps 150 g",           162.0, 2.5, 2.49, (40, 200, 230)),
    SimProduct("P06", "Paprika crisps 150 g",          163.0, 2.5, 2.49, (30, 90, 220)),
    SimProduct("P07", "Granola bar 6 pack",            216.0, 2.0, 3.99, (90, 160, 200)),
    SimProduct("P09", "Sparkling water 500 ml",        538.0, 4.0, 1.19, (220, 180, 90)),
    SimProduct("P10", "Still water 500 ml",            536.0, 4.0, 0.99, (230, 140, 60)),
    SimProduct("P11", "Cola can 330 ml",               352.0, 3.0, 1.29, (40, 30, 200)),
    SimProduct("P12", "Lemon soda can 330 ml",         351.0, 3.0, 1.29, (60, 220, 220)),
    SimProduct("P13", "Orange juice 1 l",             1085.0, 5.0, 2.99, (20, 140, 250)),
    SimProduct("P14", "Whole milk 1 l",               1040.0, 5.0, 1.49, (245, 245, 240)),
    SimProduct("P16", "Instant noodles cup",            88.0, 1.5, 1.29, (50, 80, 200)),
    SimProduct("P17", "Tomato soup can 400 g",         455.0, 3.0, 1.79, (40, 40, 180)),
    SimProduct("P18", "Chickpeas can 400 g",           452.0, 3.0, 1.09, (120, 180, 120)),
    SimProduct("P19", "Basmati rice 1.5 kg",          1500.0, 5.0, 4.49, (200, 210, 230)),
    SimProduct("P20", "Pasta fusilli 500 g",           508.0, 2.5, 1.39, (60, 120, 40)),
    SimProduct("P21", "Peanut butter jar 340 g",       520.0, 4.0, 3.49, (70, 110, 160)),
    SimProduct("P22", "Strawberry jam 340 g",          505.0, 4.0, 2.99, (60, 30, 170)),
    SimProduct("P23", "Energy drink 250 ml",           276.0, 2.0, 1.99, (200, 100, 20)),
    SimProduct("P24", "Iced tea 500 ml",               545.0, 4.0, 1.59, (40, 160, 230)),
    SimProduct("P25", "Protein bar 60 g",               62.0, 1.2, 2.49, (120, 120, 120)),
    SimProduct("P28", "Green tea 20 bags",              48.0, 1.0, 2.49, (110, 200, 140)),
)
# fmt: on

BY_SKU = {p.sku: p for p in PRODUCTS}

# Which skus stand on which shelf, three plates a shelf, in order along the face. Weight
# look-alikes share a shelf on purpose: P01/P02, P03/P04, P05/P06, P11/P12, P09/P10/P24,
# P17/P18 and P20/P22/P21.
PLANOGRAM: dict[str, tuple[str, ...]] = {
    "G1S1": ("P01", "P02", "P28"),
    "G1S2": ("P03", "P04", "P25"),
    "G2S1": ("P05", "P06", "P16"),
    "G2S2": ("P11", "P12", "P23"),
    "G3S1": ("P09", "P10", "P24"),
    "G3S2": ("P13", "P14", "P19"),
    "G4S1": ("P17", "P18", "P07"),
    "G4S2": ("P20", "P22", "P21"),
}
