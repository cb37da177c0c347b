// A room's errors name the room by its name: "… member of room "General"", not
// its id. The server speaks of ids (it knows no display names in its errors).

import { ApiError } from "./api.js";

/** An attempt(action) like ctx.attempt whose notices name the room as nameOf() says. */
export function roomAttempt(ctx, roomId, nameOf) {
  const named = (error) => {
    const name = nameOf();
    if (!name || !(error instanceof ApiError)) return error;
    const say = (text) => String(text ?? "").replaceAll(`'${roomId}'`, `"${name}"`);
    return new ApiError(error.status, say(error.title), say(error.detail), error.type);
  };
  return async (action) => {
    try {
      return await action();
    } catch (error) {
      ctx.showError(named(error));
      return undefined;
    }
  };
}
