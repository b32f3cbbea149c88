"""Wall callbacks: all clientside (clock, connection state, figure scaling); no server round trips."""

from dash import Input, Output, State

from dashboard import ids


def register(app) -> None:
    """Attach the wall's callbacks to the Dash app."""
    app.clientside_callback(
        """
        function (_tick) {
            const now = new Date();
            const parts = new Intl.DateTimeFormat('zh-CN', {
                timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
                hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false
            }).formatToParts(now);
            const get = (type) => (parts.find((p) => p.type === type) || {}).value;
            return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
        }
        """,
        Output(ids.WALL_CLOCK, "children"),
        Input(ids.WALL_CLOCK_TICK, "n_intervals"),
    )
    app.clientside_callback(
        """
        function (connected, labels) {
            return [
                connected ? 'wall-connection' : 'wall-connection offline',
                connected ? labels.connected : labels.disconnected,
            ];
        }
        """,
        Output(ids.WALL_CONNECTION, "className"),
        Output(ids.WALL_CONNECTION_TEXT, "children"),
        Input(ids.WALL_SOCKET, "connected"),
        State(ids.WALL_LABELS, "data"),
    )
    app.clientside_callback(
        """
        function (_tick, figure) {
            // Plotly sizes text and lines in pixels: scale them with the viewport like the rest
            // of the wall. Checked on each clock tick, so a resized or rotated screen follows.
            const scale = Math.max(Math.min(window.innerWidth / 1920, window.innerHeight / 1080), 0.5);
            if (!figure || !figure.layout || (figure.layout.meta && figure.layout.meta.scale === scale)) {
                return window.dash_clientside.no_update;
            }
            const size = Math.round(15 * scale);
            const layout = Object.assign({}, figure.layout, {
                meta: {scale: scale},
                font: Object.assign({}, figure.layout.font, {size: size}),
                margin: {l: 4 * size, r: size, t: size, b: 3 * size},
            });
            const data = figure.data.map((trace) => trace.type === 'scatter'
                ? Object.assign({}, trace, {line: Object.assign({}, trace.line, {width: 3 * scale}),
                                            marker: Object.assign({}, trace.marker, {size: 6 * scale})})
                : trace);
            return Object.assign({}, figure, {layout: layout, data: data});
        }
        """,
        Output(ids.WALL_TREND, "figure"),
        Input(ids.WALL_CLOCK_TICK, "n_intervals"),
        State(ids.WALL_TREND, "figure"),
    )
