"""Sub-parameter routing: ``optimizer__lr``, ``activation__p``, ``solver__max_iter`` reach the torch parts, skorch style.

GridSearchCV and ``set_params`` address nested settings as ``prefix__name``; scikit-learn would
look for an estimator under ``prefix``. An estimator that lists ``_routes`` (prefix → the dict
parameter of the same part) keeps such keys in a private dict, returns them from ``get_params``
(so ``clone`` rebuilds them) and hands them out through :meth:`RoutedParams.params_for`, merged
with the dict parameter (``activation_params``, ``solver_options``, ``optimizer_params``).
"""

from __future__ import annotations

import difflib
from typing import Any, ClassVar

__all__ = ["RoutedParams"]


class RoutedParams:
    """Mixin for a ``BaseEstimator``: keep ``prefix__name`` parameters and serve them to the part they configure.

    Subclasses set ``_routes = {"optimizer": "optimizer_params", ...}``, end ``__init__`` with
    ``self._store_routed(kwargs)`` and call :meth:`_check_routed` at the start of ``fit``. As
    scikit-learn asks, ``__init__`` and ``set_params`` store and never validate: a key that no
    part takes (a typo) is an error at ``fit``, with the closest correct name.
    """

    _routes: ClassVar[dict[str, str]] = {}

    def _store_routed(self, kwargs: dict[str, Any]) -> None:
        """Keep the ``prefix__name`` keyword arguments of ``__init__`` (checked at fit)."""
        self._sub_params = dict(kwargs)

    def _check_routed(self) -> None:
        """Every extra parameter must be ``prefix__name`` with a routed prefix (run at the start of fit)."""
        names = sorted(super().get_params(deep=False))
        for key in getattr(self, "_sub_params", {}):
            if not self._is_routed(key):
                raise ValueError(
                    f"{type(self).__name__} got an unknown parameter {key!r}.{self._routing_help(key, names)}"
                )

    def _is_routed(self, key: str) -> bool:
        """``prefix__name`` with a known prefix and a non-empty name."""
        prefix, sep, name = key.partition("__")
        return bool(sep) and bool(name) and prefix in self._routes

    def _routing_help(self, key: str, names: list[str] = ()) -> str:
        """Which prefixes this estimator routes, and the closest correct key (a routed one, or one of ``names``)."""
        prefixes = ", ".join(f"{p}__" for p in self._routes)
        prefix, sep, name = key.partition("__")
        if sep:
            close = [f"{p}__{name}" for p in difflib.get_close_matches(prefix, list(self._routes), n=1)]
        else:
            close = difflib.get_close_matches(key, list(names), n=1)
        guess = f" Did you mean {close[0]!r}?" if close else ""
        return f" Sub-parameters are routed with the prefixes {prefixes} (e.g. {next(iter(self._routes))}__name).{guess}"

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, the routed ``prefix__name`` ones included (``clone`` rebuilds them)."""
        params = super().get_params(deep=deep)
        params.update(getattr(self, "_sub_params", {}))
        return params

    def set_params(self, **params: Any):
        """Set parameters; ``prefix__name`` keys (and any key that is no parameter) are kept for :meth:`params_for`.

        Unknown keys are not an error here but at ``fit`` (as for every parameter value), with
        the closest correct name.
        """
        valid = set(super().get_params(deep=False))
        extra = {key: params.pop(key) for key in list(params) if self._is_routed(key) or key not in valid}
        super().set_params(**params)
        if extra:
            self._sub_params = {**getattr(self, "_sub_params", {}), **extra}
        return self

    def params_for(self, prefix: str) -> dict[str, Any]:
        """The settings of the part ``prefix``: its dict parameter merged with the ``prefix__name`` parameters.

        Parameters
        ----------
        prefix : str
            One of the routed prefixes (``"activation"``, ``"solver"``, ``"optimizer"``).

        Returns
        -------
        dict

        Raises
        ------
        ValueError
            The same name is given both ways (``activation_params={"p": 2}`` and ``activation__p=3``).
        """
        if prefix not in self._routes:
            raise KeyError(f"{type(self).__name__} routes no parameters to {prefix!r}; routed: {list(self._routes)}.")
        dict_name = self._routes[prefix]
        merged = dict(getattr(self, dict_name) or {})
        for key, value in getattr(self, "_sub_params", {}).items():
            head, _, name = key.partition("__")
            if head != prefix:
                continue
            if name in merged:
                raise ValueError(
                    f"{type(self).__name__} got {name!r} twice: {key}={value!r} and {dict_name}="
                    f"{getattr(self, dict_name)!r}; set it one way only."
                )
            merged[name] = value
        return merged
