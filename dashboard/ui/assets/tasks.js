/* The handlers' /tasks page in the browser (and one helper of /admin's users form).
   No inline code (the CSP forbids it): Dash calls these by name (ClientsideFunction("tasks", …)). */
(function () {
  "use strict";
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.tasks = {
    // The badge in the header: live while the socket is connected, else offline.
    connection: function (connected, page) {
      var labels = page || {};
      return connected
        ? ["tasks-connection", labels.live || ""]
        : ["tasks-connection offline", labels.offline || ""];
    },
    // /admin: the department or team field matters for the handler role only.
    assigneeField: function (role) {
      return role === "handler" ? {} : { display: "none" };
    },
  };
})();
