"""Zones: who is reaching into which shelf, who came in, who left, and who is who.

:class:`Zones` turns each frame's tracks into a :class:`Scene`. It owns the shoppers and
calls one small part per job:

- **Reach presence** (:mod:`.reach`): for every track and shelf, whether the box touches the
  shelf's reach zone, its *gap* to the shelf and how far it misses each plate, and the
  colour at the tip of a reach into a shelf (:mod:`walkout.hands`).
- **Shoppers** (here). Track ids belong to the tracker; shopper ids belong to the store. A
  track first seen in the entrance zone starts a shopper (numbered 1, 2, ... in order). A
  track first seen elsewhere is held for ``pending_s``: if a shopper's track was lost in the
  meantime (unseen for ``lost_after_s``, not yet exited) and the new track starts no farther
  from where it was last seen than ``reid_margin_m + reid_speed_mps * gap``, the new track
  continues that shopper (the closest in colour, else the nearest; when a shopper unseen
  for a moment, not lost yet, is closer still, it waits: a tracker restarting the track
  of someone beside a lost shopper). Otherwise it becomes a
  new shopper: one who has entered if first seen within ``entrance_margin_m`` of the
  entrance (people walking in side by side are often found as two only once past it), else
  one whom the camera did not see come in: ``unseen`` while nobody inside is missing (the
  detector missed them on the way in, and there is nobody else they could be), else
  ``appeared``, flagged ``lost_track`` (a lost shopper not recognised). A track whose box overlaps
  a shopper's box waits until it stands apart: the detector sometimes finds one reaching
  shopper as two boxes (body and arm), and the second is not a person. One that does stand
  apart, while nobody inside is lost, came in hidden in that shopper's box (a couple walking
  in as one box, found as two metres inside): it has entered when they did.
- **Which shopper each track shows, over time** (:mod:`.identities`), read with
  :meth:`Zones.shopper_at`, since a repair can change it back in time.
- **Identity repair** (:mod:`.repair`, with the colour models of :mod:`.looks`): a swap of
  ids between shoppers who came close is found by colour and undone from the moment it
  happened. :meth:`Zones.busy` names the shoppers who touched someone within ``settle_s``,
  whose weight events fusion holds until that is settled.
- **Hidden shoppers** (here). Two people standing close are often found as one box, which
  carries on one of their tracks; the other shopper is lost though still there. While the
  place a lost shopper was last seen lies inside someone's current box (for at most
  ``hidden_s``), their reach is still reported, from their last box, marked ``held``.
- **Doors** (:mod:`.doors`), debounced; a track that vanishes while in the exit zone has
  exited too. A shopper lost for ``reid_window_s`` without coming back is given up
  (``gone``); the carts flag that receipt ``lost_track``.
- **Dwell** (:mod:`.visits`): each shopper's visits to each shelf, reported when they end.
"""

from __future__ import annotations

import numpy as np

from ..config import StoreConfig
from ..types import Detections
from .doors import Doors
from .identities import Identities
from .looks import Looks, distance, look
from .reach import Ignore, Reach, anchor
from .repair import IdentityRepair
from .scene import Near, Scene, Shopper, Visit, ZoneParams
from .visits import Visits

__all__ = ["Ignore", "Near", "Scene", "Shopper", "Visit", "ZoneParams", "Zones", "anchor"]


class Zones:
    """Per-frame reach presence, door crossings and shopper identity (see the module doc)."""

    def __init__(self, store: StoreConfig, params: ZoneParams | None = None) -> None:
        self.store = store
        self.params = params or ZoneParams()
        p, fps = self.params, store.camera.fps
        self.doors = Doors(store, p.frames(p.door_s, fps))
        ppm = store.camera.px_per_m()  # physical distances in pixels
        self._entrance_margin_px = p.entrance_margin_m * ppm
        self._reid_margin_px, self._reid_speed_px_s = p.reid_margin_m * ppm, p.reid_speed_mps * ppm
        self.reach = Reach(store)
        self.reset()

    def reset(self) -> None:
        self.shoppers: dict[str, Shopper] = {}
        self.ids = Identities()
        self.looks = Looks(self.params.look_rate)
        p = self.params
        self.repair = IdentityRepair(p, self.shoppers, self.ids, self.looks,
                                     p.frames(p.look_every_s, self.store.camera.fps))
        self.visits = Visits(self.params)
        self._pending: dict[int, tuple[float, tuple[float, float]]] = {}
        self._hosts: dict[int, str] = {}  # pending track -> the shopper it started on
        self._t = 0.0

    @property
    def shopper_of(self) -> dict[int, str]:
        """Track id -> the shopper it shows now."""
        return self.ids.shopper_of

    @property
    def repairs(self) -> list[tuple[float, tuple[str, ...]]]:
        """The identity repairs applied so far: (from t, shoppers involved)."""
        return self.repair.repairs

    def shopper_at(self, track: int, t: float) -> str:
        """The shopper a track showed at time ``t`` ("" if none)."""
        return self.ids.shopper_at(track, t)

    def busy(self) -> set[str]:
        """Shoppers touching someone now or within ``settle_s``: their identities may still
        be repaired, so their weight events wait."""
        return self.repair.busy(self._t)

    # ---- one frame ---------------------------------------------------------------------------
    def update(self, t: float, tracks: Detections, image: np.ndarray | None = None) -> Scene:
        """One frame's tracks (and the image, for the colour models; without it no identity
        repair is done)."""
        ids = tracks.tracker_id if tracks.tracker_id is not None else np.zeros(0, np.int64)
        boxes = tracks.xyxy.astype(np.float64)
        scene = Scene(t, ids.copy(), boxes, [], [])
        centres = {}
        with_tips = image is not None and self.reach.tips
        if with_tips:
            self.reach.update(image, boxes)
        for tid, box in zip(ids.tolist(), boxes):
            centres[tid] = anchor(box, self.reach.oblique)
            self.ids.saw(tid, t)
            scene.near += self.reach.near(tid, box, image=image if with_tips else None)
        self._t = t
        box_of = dict(zip(ids.tolist(), boxes))

        def look_of(tid: int) -> np.ndarray | None:
            return None if image is None else look(image, box_of[tid])

        self._identify(t, centres, scene, look_of, box_of)
        if image is not None:
            self.repair.update(t, ids.tolist(), boxes, image)
        scene.shoppers = [self.shopper_of.get(tid, "") for tid in ids.tolist()]
        for tid, xy in centres.items():
            s = self.shoppers.get(self.shopper_of.get(tid, ""))
            if s is not None and s.track == tid:
                s.last_t, s.last_xy, s.lost, s.box = t, xy, False, box_of[tid]
                self.doors.step(s, t, xy, scene)
        self._lose(t, scene)
        self._hold(t, scene, box_of)
        self.visits.update(t, scene, self.shopper_of)
        return scene

    def finish(self, t: float) -> Scene:
        """End of the stream: close open visits (shoppers still inside keep their carts)."""
        return self.visits.last_scene(t)

    # ---- shoppers ----------------------------------------------------------------------------
    def _identify(self, t: float, centres: dict, scene: Scene, look_of,
                  boxes: dict[int, np.ndarray]) -> None:
        """New tracks become shoppers: a new one, or a lost one found again (module doc)."""
        p = self.params
        for tid, xy in centres.items():
            if tid in self.shopper_of:
                self._found_again(tid, centres)
                continue
            if self.doors.at_entrance(xy):
                self._pending.pop(tid, None)
                self._hosts.pop(tid, None)
                self._new(tid, t, xy, "outside")
                continue
            first = self._pending.setdefault(tid, (t, xy))
            lost = self._lost_candidate(t, first[1], look_of(tid), centres, first[0])
            if lost is not None:
                del self._pending[tid]
                self._hosts.pop(tid, None)
                self.ids.assign(tid, lost.id, first[0])
                lost.track, lost.lost = tid, False
                # the shoppers the new track could have been instead: those on a track of
                # their own as near its first place as the lost shopper could have walked
                reach = self._reid_margin_px + self._reid_speed_px_s * (t - first[0])
                self.repair.handover(first[0], tid, boxes[tid], {
                    k: boxes[k] for k, c in centres.items()
                    if k != tid and (o := self.shoppers.get(self.shopper_of.get(k, "")))
                    and o.track == k and o.state == "inside"
                    and np.hypot(c[0] - first[1][0], c[1] - first[1][1]) <= reach})
            elif (host := self._on_someone(tid, boxes)) is not None:
                self._pending[tid] = (t, first[1])  # a second box on a shopper: wait
                self._hosts.setdefault(tid, host)
            elif t - first[0] >= p.pending_s:
                del self._pending[tid]
                s = self._new(tid, t, xy, "inside")
                host = self.shoppers.get(self._hosts.pop(tid, ""))
                if self.doors.near_entrance(first[1], self._entrance_margin_px):
                    s.entered_t = first[0]
                    scene.entered.append((s.id, first[0]))  # came in hidden by someone
                elif not any(o.lost and o.state == "inside" for o in self.shoppers.values()):
                    if host is not None and host.entered_t is not None:
                        # out of the box of someone who came in, while nobody inside is
                        # missing: they came in with them, hidden in their box
                        s.entered_t = host.entered_t
                        scene.entered.append((s.id, host.entered_t))
                    else:
                        scene.unseen.append((s.id, first[0]))  # nobody it could be
                else:
                    scene.appeared.append((s.id, first[0]))
        for tid in [k for k in self._pending if k not in centres]:
            if t - self._pending[tid][0] > p.pending_s:
                del self._pending[tid]  # a flicker that never became anyone
                self._hosts.pop(tid, None)

    def _found_again(self, tid: int, centres: dict) -> None:
        """A tracker keeps a lost track for a while and can find it again after a new
        track has started on the same person (a reach changes the box too fast to follow,
        a new track starts, then the old one matches again). The shopper was handed to the
        new track meanwhile; when that track is gone and the old one, which still shows
        them, is seen, they go back to it rather than be lost with the new one."""
        s = self.shoppers.get(self.shopper_of[tid])
        if s is not None and s.track != tid and s.state == "inside" and s.track not in centres:
            s.track = tid

    def _on_someone(self, tid: int, boxes: dict[int, np.ndarray]) -> str | None:
        """The shopper whose box track ``tid``'s box overlaps now, if any. A track that
        starts inside the store on top of a shopper is most often a second box on them (an
        arm stretched into a shelf, half a body); a person who really was hidden there is
        told apart once the boxes separate."""
        x1, y1, x2, y2 = boxes[tid]
        for other, b in boxes.items():
            s = self.shoppers.get(self.shopper_of.get(other, ""))
            if (other != tid and s is not None and s.track == other
                    and min(x2, b[2]) > max(x1, b[0]) and min(y2, b[3]) > max(y1, b[1])):
                return s.id
        return None

    def _new(self, tid: int, t: float, xy, state: str) -> Shopper:
        sid = str(len(self.shoppers) + 1)  # shoppers are numbered 1, 2, ... as they come
        s = Shopper(sid, tid, t, xy, state=state)
        self.shoppers[sid] = s
        self.ids.assign(tid, sid, t)
        return s

    def _lost_candidate(self, t: float, xy, seen: np.ndarray | None = None,
                        present: dict | None = None, t_first: float | None = None
                        ) -> Shopper | None:
        """The lost shopper a new track first seen at ``xy`` (at ``t_first``) continues:
        among those who could have walked there, the closest in colour when both are known,
        else the nearest. One still seen elsewhere once the track was there was someone
        else: from them only a box's jitter is allowed (``reid_margin_m``). Those
        unseen in this frame (``present``: its tracks) but not lost yet count too: when one
        of them is the best, nobody is (yet): a tracker that drops a track and starts
        another on the same person in one frame leaves that shopper unseen for a frame, and
        a lost neighbour must not take the new track meanwhile."""
        models = self.looks.models
        best, best_key = None, (np.inf, np.inf)
        for s in self.shoppers.values():
            if s.state != "inside" or not (s.lost or (present is not None
                                                      and s.track not in present)):
                continue
            d = float(np.hypot(xy[0] - s.last_xy[0], xy[1] - s.last_xy[1]))
            walked = 0.0 if t_first is not None and t_first <= s.last_t else t - s.last_t
            if d > self._reid_margin_px + self._reid_speed_px_s * walked:
                continue
            colour = distance(models[s.id], seen) \
                if seen is not None and s.id in models else 1.0
            if (colour, d) < best_key:
                best, best_key = s, (colour, d)
        return best if best is not None and best.lost else None

    def _lose(self, t: float, scene: Scene) -> None:
        p = self.params
        for s in self.shoppers.values():
            if s.state in ("exited", "gone") or s.last_t == t:
                continue
            if s.state == "inside" and s.door_run and self.doors.at_exit(s.last_xy):
                s.state = "exited"  # vanished while leaving: that is an exit
                scene.exited.append((s.id, s.door_t))
                continue
            if not s.lost and t - s.last_t >= p.lost_after_s:
                s.lost = True
            if s.lost and t - s.last_t >= p.reid_window_s:
                if s.state == "inside":
                    scene.gone.append((s.id, t))
                s.state = "gone"

    # ---- shoppers out of sight ----------------------------------------------------------------
    def _hold(self, t: float, scene: Scene, box_of: dict[int, np.ndarray]) -> None:
        """Presence for shoppers hidden in someone else's box. Two people standing close
        are often found as one box, which carries on one of their tracks; the other
        shopper is lost, though still there. While the place a lost shopper was last seen
        lies inside a current box (for at most ``hidden_s``), they are held at their last
        box, so a weight change at the plate they stood at can still go to them. Their
        reach is marked ``held`` (fusion takes a held box as evidence of where they stood,
        not of when they reached) and reported under the track id ``-1 - lost track``:
        :meth:`shopper_at` reads it as that track's, so when a later repair finds the lost
        track was someone else, their held presence goes with it."""
        for s in self.shoppers.values():
            if (s.state != "inside" or s.last_t == t or s.box is None
                    or t - s.last_t > self.params.hidden_s):
                continue
            x, y = s.last_xy
            if any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in box_of.values()):
                scene.near += self.reach.near(-1 - s.track, s.box, held=True)
